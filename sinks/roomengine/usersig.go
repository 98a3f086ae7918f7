package roomengine

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// UserSig verification errors, so a server (the simulator) can answer with
// the matching Room Engine error code.
var (
	ErrUserSigMalformed = errors.New("usersig is malformed")                  // 70003
	ErrUserSigMismatch  = errors.New("usersig does not match the secret key") // 70009
	ErrUserSigExpired   = errors.New("usersig expired")                       // 70001
)

// userSigVersion is the TLSSigAPIv2 version tag.
const userSigVersion = "2.0"

// maxUserSigJSON bounds the inflated document a verifier accepts.
const maxUserSigJSON = 4 << 10

// sigDoc is the JSON document inside a UserSig.
type sigDoc struct {
	Ver        string `json:"TLS.ver"`
	Identifier string `json:"TLS.identifier"`
	SDKAppID   uint64 `json:"TLS.sdkappid"`
	Expire     int64  `json:"TLS.expire"`
	Time       int64  `json:"TLS.time"`
	Sig        string `json:"TLS.sig"`
}

// sigAlphabet maps standard base64 to the UserSig alphabet and back.
var (
	toSigAlphabet   = strings.NewReplacer("+", "*", "/", "-", "=", "_")
	fromSigAlphabet = strings.NewReplacer("*", "+", "-", "/", "_", "=")
)

// GenUserSig returns a TLSSigAPIv2 UserSig for identifier in app sdkappid,
// issued at now and valid for expire (whole seconds). key is the raw bytes
// of the secret key exactly as the console shows it.
func GenUserSig(key []byte, sdkappid uint64, identifier string, now time.Time, expire time.Duration) (string, error) {
	switch {
	case len(key) == 0:
		return "", errors.New("usersig: secret key is empty")
	case identifier == "":
		return "", errors.New("usersig: identifier is empty")
	case expire < time.Second:
		return "", fmt.Errorf("usersig: expire %v is under one second", expire)
	}
	doc := sigDoc{
		Ver:        userSigVersion,
		Identifier: identifier,
		SDKAppID:   sdkappid,
		Expire:     int64(expire / time.Second),
		Time:       now.Unix(),
	}
	doc.Sig = sigMAC(key, doc)
	raw, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("usersig: encode: %w", err)
	}
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return "", fmt.Errorf("usersig: compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("usersig: compress: %w", err)
	}
	return toSigAlphabet.Replace(base64.StdEncoding.EncodeToString(buf.Bytes())), nil
}

// sigMAC is the standard base64 of the HMAC-SHA256 of the signed fields.
func sigMAC(key []byte, d sigDoc) string {
	m := hmac.New(sha256.New, key)
	io.WriteString(m, "TLS.identifier:"+d.Identifier+"\n")
	io.WriteString(m, "TLS.sdkappid:"+strconv.FormatUint(d.SDKAppID, 10)+"\n")
	io.WriteString(m, "TLS.time:"+strconv.FormatInt(d.Time, 10)+"\n")
	io.WriteString(m, "TLS.expire:"+strconv.FormatInt(d.Expire, 10)+"\n")
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// VerifyUserSig checks sig against key at now and returns the identifier
// and sdkappid it was issued for. The error wraps ErrUserSigMalformed,
// ErrUserSigMismatch or ErrUserSigExpired; on ErrUserSigExpired the
// identifier and sdkappid are returned too.
func VerifyUserSig(sig string, key []byte, now time.Time) (identifier string, sdkappid uint64, err error) {
	doc, err := decodeUserSig(sig)
	if err != nil {
		return "", 0, err
	}
	want, err := base64.StdEncoding.DecodeString(doc.Sig)
	if err != nil {
		return "", 0, fmt.Errorf("%w: TLS.sig is not base64", ErrUserSigMalformed)
	}
	got, _ := base64.StdEncoding.DecodeString(sigMAC(key, doc))
	if !hmac.Equal(got, want) {
		return "", 0, ErrUserSigMismatch
	}
	if now.Unix() > doc.Time+doc.Expire {
		return doc.Identifier, doc.SDKAppID, ErrUserSigExpired
	}
	return doc.Identifier, doc.SDKAppID, nil
}

// decodeUserSig undoes the alphabet, base64 and zlib layers.
func decodeUserSig(sig string) (sigDoc, error) {
	var doc sigDoc
	packed, err := base64.StdEncoding.DecodeString(fromSigAlphabet.Replace(sig))
	if err != nil {
		return doc, fmt.Errorf("%w: not base64", ErrUserSigMalformed)
	}
	zr, err := zlib.NewReader(bytes.NewReader(packed))
	if err != nil {
		return doc, fmt.Errorf("%w: not zlib", ErrUserSigMalformed)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxUserSigJSON+1))
	if err != nil || len(raw) > maxUserSigJSON {
		return doc, fmt.Errorf("%w: bad zlib stream", ErrUserSigMalformed)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return doc, fmt.Errorf("%w: bad json", ErrUserSigMalformed)
	}
	if doc.Ver != userSigVersion || doc.Identifier == "" || doc.Sig == "" {
		return doc, fmt.Errorf("%w: missing fields", ErrUserSigMalformed)
	}
	return doc, nil
}
