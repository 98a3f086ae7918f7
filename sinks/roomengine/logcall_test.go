package roomengine

import (
	"bytes"
	"strings"
	"testing"

	"github.com/roomwarden/roomwarden/engine"
)

// TestLogCallRequestID checks that each call's log line carries the
// answer's RequestId, whatever the answer was.
func TestLogCallRequestID(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"ok", `{"ActionStatus":"OK","ErrorCode":0,"RequestId":"req-ok-1"}`, "request_id=req-ok-1"},
		{"unknown code", `{"ActionStatus":"FAIL","ErrorCode":987654,"ErrorInfo":"?","RequestId":"req-code-1"}`, "request_id=req-code-1"},
		{"odd status without code", `{"ActionStatus":"MAYBE","ErrorCode":0,"RequestId":"req-odd-1"}`, "request_id=req-odd-1"},
		{"not json", `<html></html>`, `request_id=""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRecorder(t, answer(200, tc.body))
			var logs bytes.Buffer
			c := newTestClient(t, srv.URL, &logs)
			_, _ = c.LockSeat(t.Context(), engine.LockSeat{RoomID: "r", Index: 1, ForbidAudio: engine.True})
			if !strings.Contains(logs.String(), tc.want) {
				t.Errorf("log %q does not contain %s", logs.String(), tc.want)
			}
		})
	}
}
