package roomengine

import (
	"regexp"
	"testing"

	"github.com/roomwarden/roomwarden/engine"
)

func TestDryRun(t *testing.T) {
	srv := newRecorder(t, ok)
	c := newTestClient(t, srv.URL, nil)
	d := NewDryRun(c)
	tests := []struct {
		name     string
		p        engine.LockSeat
		wantBody string
	}{
		{"audio", engine.LockSeat{RoomID: "room-test", Index: 2, ForbidAudio: engine.True},
			`{"RoomId":"room-test","Index":2,"ForbidAudio":true}`},
		{"all", engine.LockSeat{RoomID: "r", Index: 0, ForbidTaken: engine.True, ForbidVideo: engine.True, ForbidAudio: engine.False},
			`{"RoomId":"r","Index":0,"ForbidTaken":true,"ForbidVideo":true,"ForbidAudio":false}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := d.LockSeat(t.Context(), tc.p)
			if err != nil {
				t.Fatal(err)
			}
			want := regexp.MustCompile(`^POST ` + regexp.QuoteMeta(srv.URL+LockSeatPath+
				"?sdkappid=1400000000&identifier=administrator&usersig=REDACTED&random=") +
				`[0-9]{1,10}&contenttype=json ` + regexp.QuoteMeta(tc.wantBody) + `$`)
			if !want.MatchString(rc.Request) {
				t.Errorf("Request = %q, want match for %s", rc.Request, want)
			}
		})
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("dry run sent %d requests, want 0", n)
	}
}
