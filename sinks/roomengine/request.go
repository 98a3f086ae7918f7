package roomengine

import (
	"encoding/json"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/roomwarden/roomwarden/engine"
)

// LockSeatPath is the API path of lock_seat.
const LockSeatPath = "/v4/room_engine_http_mic/lock_seat"

// Redacted replaces the usersig wherever a URL is shown.
const Redacted = "REDACTED"

// urlPrefix is everything before the usersig value:
// {endpoint}/v4/room_engine_http_mic/lock_seat?sdkappid=..&identifier=..&usersig=
func urlPrefix(endpoint string, appID uint64, identifier string) string {
	return endpoint + LockSeatPath +
		"?sdkappid=" + strconv.FormatUint(appID, 10) +
		"&identifier=" + url.QueryEscape(identifier) +
		"&usersig="
}

// buildURL completes prefix with the usersig, a fresh random uint32 and the
// content type. The usersig alphabet (base64 letters, digits, * - _) is
// safe in a query as is.
func buildURL(prefix, sig string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(sig) + 40)
	b.WriteString(prefix)
	b.WriteString(sig)
	b.WriteString("&random=")
	b.WriteString(strconv.FormatUint(uint64(rand.Uint32()), 10))
	b.WriteString("&contenttype=json")
	return b.String()
}

// appendBody appends the JSON body of p: RoomId, Index, and only the
// Forbid* fields the action sets.
func appendBody(b []byte, p engine.LockSeat) []byte {
	b = append(b, `{"RoomId":`...)
	b = appendJSONString(b, p.RoomID)
	b = append(b, `,"Index":`...)
	b = strconv.AppendInt(b, int64(p.Index), 10)
	b = appendFlag(b, `,"ForbidTaken":`, p.ForbidTaken)
	b = appendFlag(b, `,"ForbidVideo":`, p.ForbidVideo)
	b = appendFlag(b, `,"ForbidAudio":`, p.ForbidAudio)
	return append(b, '}')
}

func appendFlag(b []byte, field string, f engine.Flag) []byte {
	if !f.IsSet() {
		return b
	}
	b = append(b, field...)
	return strconv.AppendBool(b, f.Bool())
}

// appendJSONString appends s as a JSON string. Plain printable ASCII is
// copied; anything else goes through encoding/json for exact escaping.
func appendJSONString(b []byte, s string) []byte {
	if plainASCII(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	q, _ := json.Marshal(s) // a valid string always marshals
	return append(b, q...)
}

func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// RedactURL returns s with the value of every usersig query parameter
// (any letter case) replaced by REDACTED. Text that is not a URL comes
// back unchanged unless it contains "usersig=" after '?' or '&'.
func RedactURL(s string) string {
	var b strings.Builder
	for {
		i := indexParam(s, "usersig=")
		if i < 0 {
			if b.Len() == 0 {
				return s
			}
			b.WriteString(s)
			return b.String()
		}
		end := i + len("usersig=")
		b.WriteString(s[:end])
		b.WriteString(Redacted)
		s = s[end:]
		if j := strings.IndexAny(s, "&# \t\n\"'"); j >= 0 {
			s = s[j:]
		} else {
			s = ""
		}
	}
}

// indexParam finds name (lower case, with its '=') as a query parameter
// name, that is right after '?' or '&', ignoring letter case.
func indexParam(s, name string) int {
	for i := 1; i+len(name) <= len(s); i++ {
		if (s[i-1] == '?' || s[i-1] == '&') && strings.EqualFold(s[i:i+len(name)], name) {
			return i
		}
	}
	return -1
}
