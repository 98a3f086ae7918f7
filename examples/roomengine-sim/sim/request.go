package sim

import (
	"encoding/json"
	"errors"
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
	case len(s.cfg.Admins) > 0 && !slices.Contains(s.cfg.Admins, identifier):
		return fail(CodeAdminRequired, "identifier is not an app administrator")
	}
	return verdict{}
}

// parseBody decodes and checks the body, filling c's params.
func parseBody(raw []byte, c *Call) verdict {
	var b lockBody
	var syntax *json.SyntaxError
	err := json.Unmarshal(raw, &b)
	switch {
	case errors.As(err, &syntax) || (err != nil && len(raw) == 0):
		return fail(CodeBadJSON, "body is not JSON")
	case err != nil:
		return fail(CodeBadParameter, "invalid parameter: "+err.Error())
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

func flag(b *bool) engine.Flag {
	if b == nil {
		return engine.Unset
	}
	return engine.FlagOf(*b)
}
