package jsstate

import (
	"encoding/base64"
	"regexp"
	"strings"
)

// Label members are the keys of their bucket, so that
// `nats kv put watched_users u42 ""` labels u42. KV keys admit only
// letters, digits and - / _ = . (no leading or trailing dot, no two in a
// row). A member that is such a key and does not begin with "=" is its
// own key; any other member is "=" followed by its unpadded base64url
// (RFC 4648 §5) encoding: "user@example.com" is "=dXNlckBleGFtcGxlLmNvbQ".
// Keys beginning with "=" are therefore reserved for encoded members; a
// producer labelling such a member writes its encoded key.

var validKey = regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)

const encodedMember = "="

func encodeMember(m string) string {
	if isPlainKey(m) {
		return m
	}
	return encodedMember + base64.RawURLEncoding.EncodeToString([]byte(m))
}

func isPlainKey(k string) bool {
	return validKey.MatchString(k) && !strings.HasPrefix(k, encodedMember) &&
		!strings.HasPrefix(k, ".") && !strings.HasSuffix(k, ".") && !strings.Contains(k, "..")
}

// decodeMember is encodeMember's inverse; a key beginning with "=" that
// is not valid base64url is taken as it is.
func decodeMember(k string) string {
	if rest, ok := strings.CutPrefix(k, encodedMember); ok {
		if b, err := base64.RawURLEncoding.DecodeString(rest); err == nil {
			return string(b)
		}
	}
	return k
}
