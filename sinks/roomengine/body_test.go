package roomengine

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/roomwarden/roomwarden/engine"
)

func FuzzAppendBody(f *testing.F) {
	for _, s := range []string{"room-test", `a"b\c`, "\x00\x1f\u2028", "é<>&", "\xff"} {
		f.Add(s, 3, uint8(0), uint8(2))
	}
	f.Fuzz(func(t *testing.T, room string, index int, taken, audio uint8) {
		p := engine.LockSeat{RoomID: room, Index: index, ForbidTaken: engine.Flag(taken % 3), ForbidAudio: engine.Flag(audio % 3)}
		body := appendBody(nil, p)
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("body %q is not JSON: %v", body, err)
		}
		if utf8.ValidString(room) && got["RoomId"] != room {
			t.Errorf("RoomId = %q, want %q", got["RoomId"], room)
		}
		if got["Index"] != float64(index) && index < 1<<53 && index > -1<<53 {
			t.Errorf("Index = %v, want %d", got["Index"], index)
		}
		_, hasTaken := got["ForbidTaken"]
		_, hasVideo := got["ForbidVideo"]
		if hasTaken != p.ForbidTaken.IsSet() || hasVideo {
			t.Errorf("body %s: ForbidTaken present %v (flag %v), ForbidVideo present %v", body, hasTaken, p.ForbidTaken, hasVideo)
		}
		if p.ForbidAudio.IsSet() && got["ForbidAudio"] != p.ForbidAudio.Bool() {
			t.Errorf("ForbidAudio = %v, want %v", got["ForbidAudio"], p.ForbidAudio.Bool())
		}
	})
}

func TestLockSeatConcurrent(t *testing.T) {
	srv := newRecorder(t, ok)
	c := newTestClient(t, srv.URL, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				if _, err := c.LockSeat(t.Context(), engine.LockSeat{RoomID: "r", Index: g*10 + i, ForbidAudio: engine.True}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	reqs := srv.requests()
	if len(reqs) != 80 {
		t.Fatalf("%d requests, want 80", len(reqs))
	}
	seenIdx := map[string]bool{}
	for _, r := range reqs {
		if sigOf(t, r) != sigOf(t, reqs[0]) {
			t.Fatal("concurrent calls used different usersigs; the cache issued more than once")
		}
		seenIdx[strings.SplitN(string(r.Body), `"Index":`, 2)[1]] = true
	}
	if len(seenIdx) != 80 {
		t.Errorf("%d distinct bodies, want 80", len(seenIdx))
	}
}
