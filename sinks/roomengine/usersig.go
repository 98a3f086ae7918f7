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

// userSigVersion is the TLSSigAPIv2 version tag.
const userSigVersion = "2.0"

// sigDoc is the JSON document inside a UserSig.
type sigDoc struct {
	Ver        string `json:"TLS.ver"`
	Identifier string `json:"TLS.identifier"`
	SDKAppID   uint64 `json:"TLS.sdkappid"`
	Expire     int64  `json:"TLS.expire"`
	Time       int64  `json:"TLS.time"`
	Sig        string `json:"TLS.sig"`
}

// toSigAlphabet maps standard base64 to the UserSig alphabet.
var toSigAlphabet = strings.NewReplacer("+", "*", "/", "-", "=", "_")

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
