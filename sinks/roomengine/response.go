package roomengine

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/roomwarden/roomwarden/engine"
)

// response is the Room Engine answer body.
type response struct {
	ActionStatus string `json:"ActionStatus"`
	ErrorCode    int    `json:"ErrorCode"`
	ErrorInfo    string `json:"ErrorInfo"`
	RequestID    string `json:"RequestId"`
}

// decodeResponse turns an HTTP answer into a receipt or a classified
// *engine.CallError. sig is scrubbed from anything the server echoes.
func decodeResponse(status int, raw []byte, readErr error, sig string) (engine.Receipt, error) {
	if status != http.StatusOK {
		return engine.Receipt{}, &engine.CallError{
			Status: status,
			Info:   http.StatusText(status),
			Class:  classifyStatus(status),
		}
	}
	if readErr != nil {
		// The connection failed mid-answer: a transport error, retried
		// like one (lock_seat is idempotent).
		return engine.Receipt{}, &engine.CallError{
			Status: status,
			Info:   "truncated response body",
			Class:  engine.Retryable,
			Err:    redactErr(readErr),
		}
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return engine.Receipt{}, &engine.CallError{
			Status: status,
			Info:   fmt.Sprintf("unparseable response body: %v", err),
			Class:  engine.Permanent,
		}
	}
	return r.receipt(status, sig)
}

func (r response) receipt(status int, sig string) (engine.Receipt, error) {
	switch {
	case r.ErrorCode != 0:
		return engine.Receipt{}, &engine.CallError{
			Code:      r.ErrorCode,
			Info:      scrub(r.ErrorInfo, sig),
			RequestID: r.RequestID,
			Status:    status,
			Class:     Classify(r.ErrorCode),
		}
	case r.ActionStatus != "OK":
		return engine.Receipt{}, &engine.CallError{
			Status:    status,
			Info:      fmt.Sprintf("unexpected ActionStatus %q with ErrorCode 0", scrub(r.ActionStatus, sig)),
			RequestID: r.RequestID,
			Class:     engine.Permanent,
		}
	}
	return engine.Receipt{RequestID: r.RequestID}, nil
}

// scrub removes sig from server-provided text.
func scrub(s, sig string) string {
	if sig == "" || !strings.Contains(s, sig) {
		return RedactURL(s)
	}
	return RedactURL(strings.ReplaceAll(s, sig, Redacted))
}
