package sim

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

// UserSig verification errors, each answered with its Room Engine code.
var (
	ErrUserSigMalformed = errors.New("usersig is malformed")                  // 70003
	ErrUserSigMismatch  = errors.New("usersig does not match the secret key") // 70009
	ErrUserSigExpired   = errors.New("usersig expired")                       // 70001
)

// maxUserSigJSON bounds the inflated document the verifier accepts.
const maxUserSigJSON = 4 << 10

// userSig is the JSON document inside a TLSSigAPIv2 UserSig.
type userSig struct {
	Ver        string `json:"TLS.ver"`
	Identifier string `json:"TLS.identifier"`
	SDKAppID   uint64 `json:"TLS.sdkappid"`
	Expire     int64  `json:"TLS.expire"`
	Time       int64  `json:"TLS.time"`
	Sig        string `json:"TLS.sig"`
}

// VerifyUserSig checks sig against key at now, as the Room Engine does,
// and returns the identifier and sdkappid it was issued for. The error
// wraps ErrUserSigMalformed, ErrUserSigMismatch or ErrUserSigExpired; on
// ErrUserSigExpired the identifier and sdkappid are returned too. It is
// written from the published algorithm, independently of the client's
// signer, so the two check each other.
func VerifyUserSig(sig string, key []byte, now time.Time) (identifier string, sdkappid uint64, err error) {
	doc, err := openUserSig(sig)
	if err != nil {
		return "", 0, err
	}
	want, err := base64.StdEncoding.DecodeString(doc.Sig)
	if err != nil {
		return "", 0, fmt.Errorf("%w: TLS.sig is not base64", ErrUserSigMalformed)
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "TLS.identifier:%s\nTLS.sdkappid:%s\nTLS.time:%s\nTLS.expire:%s\n", doc.Identifier,
		strconv.FormatUint(doc.SDKAppID, 10), strconv.FormatInt(doc.Time, 10), strconv.FormatInt(doc.Expire, 10))
	if !hmac.Equal(m.Sum(nil), want) {
		return "", 0, ErrUserSigMismatch
	}
	if now.Unix() > doc.Time+doc.Expire {
		return doc.Identifier, doc.SDKAppID, ErrUserSigExpired
	}
	return doc.Identifier, doc.SDKAppID, nil
}

// openUserSig undoes the alphabet, base64 and zlib layers.
func openUserSig(sig string) (userSig, error) {
	var doc userSig
	std := strings.NewReplacer("*", "+", "-", "/", "_", "=").Replace(sig)
	packed, err := base64.StdEncoding.DecodeString(std)
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
	if doc.Ver != "2.0" || doc.Identifier == "" || doc.Sig == "" {
		return doc, fmt.Errorf("%w: missing fields", ErrUserSigMalformed)
	}
	return doc, nil
}
