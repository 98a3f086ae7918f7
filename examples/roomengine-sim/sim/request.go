package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/roomwarden/roomwarden/engine"
)

// lockBody is the lock_seat request body; pointers tell absent from zero.
type lockBody struct {
	RoomID      *string `json:"RoomId"`
	Index       *int    `json:"Index"`
	ForbidTaken *bool   `json:"ForbidTaken"`
	ForbidVideo *bool   `json:"ForbidVideo"`
	ForbidAudio *bool   `json:"ForbidAudio"`
}

// checkQuery checks the method and the common query parameters and
// returns the identifier and random.
func checkQuery(method string, q url.Values, appID uint64) (string, uint32, verdict) {
	if method != http.MethodPost {
		return "", 0, fail(CodeHTTPParse, "method must be POST")
	}
	ident := q.Get("identifier")
	random, err := strconv.ParseUint(q.Get("random"), 10, 32)
	switch {
	case err != nil:
		return ident, 0, fail(CodeBadQuery, "random must be a 32-bit unsigned integer")
	case q.Get("contenttype") != "json":
		return ident, 0, fail(CodeBadQuery, "contenttype must be json")
	case ident == "":
		return ident, 0, fail(CodeBadQuery, "identifier is missing")
	case q.Get("usersig") == "":
		return ident, 0, fail(CodeBadQuery, "usersig is missing")
	}
	app, err := strconv.ParseUint(q.Get("sdkappid"), 10, 64)
	if err != nil {
		return ident, 0, fail(CodeBadQuery, "sdkappid must be a number")
	}
	if app != appID {
		return ident, 0, fail(CodeInvalidApp, "sdkappid "+strconv.FormatUint(app, 10)+" is not valid")
	}
	return ident, uint32(random), verdict{}
}

// checkUserSig verifies sig for identifier at now.
func (s *Server) checkUserSig(sig, identifier string, now time.Time) verdict {
	id, app, err := VerifyUserSig(sig, s.cfg.SecretKey, now)
	switch {
	case errors.Is(err, ErrUserSigExpired):
		return fail(CodeUserSigExpired, "usersig expired")
	case errors.Is(err, ErrUserSigMismatch):
		return fail(CodeUserSigKey, "usersig does not match the secret key")
	case err != nil:
		return fail(CodeUserSigIllegal, "usersig is illegal")
	case id != identifier:
		return fail(CodeUserSigIdentifier, "identifier does not match the usersig")
	case app != s.cfg.SDKAppID:
		return fail(CodeUserSigAppID, "sdkappid does not match the usersig")
	case !s.cfg.Lenient && !slices.Contains(s.cfg.Admins, identifier):
		return fail(CodeAdminRequired, "identifier is not an app administrator")
	}
	return verdict{}
}

// parseBody decodes and checks the body, filling c's params. A strict
// simulator reads the body as the real API does (see strictBody); a
// lenient one with encoding/json, which matches field names in any case
// and ignores unknown and repeated ones.
func parseBody(raw []byte, c *Call, lenient bool) verdict {
	if !json.Valid(raw) {
		return fail(CodeBadJSON, "body is not JSON")
	}
	var b lockBody
	if lenient {
		if err := json.Unmarshal(raw, &b); err != nil {
			return fail(CodeBadParameter, "invalid parameter: "+err.Error())
		}
	} else if v := strictBody(raw, &b); v.failed() {
		return v
	}
	switch {
	case b.RoomID == nil || *b.RoomID == "":
		return fail(CodeBadParameter, "RoomId is required")
	case b.Index == nil:
		c.RoomID = *b.RoomID
		return fail(CodeBadParameter, "Index is required")
	}
	c.RoomID, c.Index = *b.RoomID, *b.Index
	c.ForbidTaken, c.ForbidVideo, c.ForbidAudio = flag(b.ForbidTaken), flag(b.ForbidVideo), flag(b.ForbidAudio)
	if c.Index < 0 {
		return fail(CodeBadParameter, "Index must not be negative")
	}
	return verdict{}
}

// strictBody decodes raw, valid JSON, into b the way the real API reads
// its parameters: a JSON object whose field names are exactly RoomId,
// Index, ForbidTaken, ForbidVideo and ForbidAudio, each at most once,
// with values of their types. Anything else is 100002.
func strictBody(raw []byte, b *lockBody) verdict {
	fields := map[string]any{
		"RoomId": &b.RoomID, "Index": &b.Index,
		"ForbidTaken": &b.ForbidTaken, "ForbidVideo": &b.ForbidVideo, "ForbidAudio": &b.ForbidAudio,
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return fail(CodeBadParameter, "invalid parameter: the body must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(CodeBadParameter, "invalid parameter: "+err.Error())
		}
		name, _ := tok.(string)
		dst, known := fields[name]
		switch {
		case !known:
			return fail(CodeBadParameter, fmt.Sprintf("invalid parameter: unknown field %q", name))
		case seen[name]:
			return fail(CodeBadParameter, fmt.Sprintf("invalid parameter: field %q given twice", name))
		}
		seen[name] = true
		if err := dec.Decode(dst); err != nil {
			return fail(CodeBadParameter, fmt.Sprintf("invalid parameter: %s: %v", name, err))
		}
	}
	return verdict{}
}

func flag(b *bool) engine.Flag {
	if b == nil {
		return engine.Unset
	}
	return engine.FlagOf(*b)
}
