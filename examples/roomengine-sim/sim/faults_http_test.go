package sim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine"
)

// postFault posts query to /rooms/{room}/faults and returns the status
// and the decoded answer.
func (f *fixture) postFault(t *testing.T, room, query string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(f.ts.URL+"/rooms/"+room+"/faults?"+query, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode answer: %v", err)
	}
	return resp.StatusCode, body
}

// TestFaultsEndpoint drives FailRoom over HTTP, as a test does with a
// simulator running as its own process: the room's next N calls get the
// fault, then it answers normally; other rooms are untouched.
func TestFaultsEndpoint(t *testing.T) {
	tests := []struct {
		name   string
		before string // a fault posted first, if any
		query  string
		want   []int // the flaky room's codes, or -status for HTTP faults
	}{
		{"default code", "", "calls=2", []int{CodeInternal, CodeInternal, 0}},
		{"given code", "", "calls=1&code=60008", []int{60008, 0}},
		{"http status", "", "calls=2&http_status=502", []int{-502, -502, 0}},
		{"replaces the earlier fault", "calls=5&code=60008", "calls=1", []int{CodeInternal, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.sim.AddRoom("flaky", DefaultSeats)
			c := f.client(t)
			if tc.before != "" {
				if status, _ := f.postFault(t, "flaky", tc.before); status != http.StatusOK {
					t.Fatalf("first fault: status %d", status)
				}
			}
			if status, body := f.postFault(t, "flaky", tc.query); status != http.StatusOK || body["RoomId"] != "flaky" {
				t.Fatalf("POST /rooms/flaky/faults?%s: status %d %v, want 200 naming the room", tc.query, status, body)
			}
			for i, want := range tc.want {
				_, err := c.LockSeat(t.Context(), engine.LockSeat{RoomID: "flaky", Index: 1, ForbidAudio: engine.True})
				if got := outcome(t, err); got != want {
					t.Errorf("call %d: got %d, want %d (%v)", i, got, want, err)
				}
			}
			if got := code(t, c, engine.LockSeat{RoomID: testRoom, Index: 1, ForbidAudio: engine.True}); got != 0 {
				t.Errorf("another room: code %d, want 0", got)
			}
		})
	}
}

// TestFaultsEndpointDelay: &delay holds the faulty answers back, and
// only those.
func TestFaultsEndpointDelay(t *testing.T) {
	const delay = 300 * time.Millisecond
	f := newFixture(t)
	f.sim.AddRoom("slow", DefaultSeats)
	c := f.client(t)
	if status, body := f.postFault(t, "slow", "calls=1&delay=300ms"); status != http.StatusOK || body["Delay"] != "300ms" {
		t.Fatalf("POST /rooms/slow/faults?calls=1&delay=300ms: status %d %v, want 200 with delay 300ms", status, body)
	}
	p := engine.LockSeat{RoomID: "slow", Index: 1, ForbidAudio: engine.True}
	for i, want := range []int{CodeInternal, 0} {
		start := time.Now()
		got := code(t, c, p)
		took := time.Since(start)
		if got != want {
			t.Errorf("call %d: code %d, want %d", i, got, want)
		}
		if held := took >= delay; held != (i == 0) {
			t.Errorf("call %d answered in %s, want held back %s only for the faulty one", i, took, delay)
		}
	}
}

func TestFaultsEndpointRefusesBadQueries(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	for _, q := range []string{"", "calls=0", "calls=two", "calls=1&code=0", "calls=1&code=x",
		"calls=1&http_status=200", "calls=1&http_status=700", "calls=1&code=100001&http_status=502",
		"calls=1&delay=x", "calls=1&delay=0s", "calls=1&delay=2m"} {
		status, body := f.postFault(t, testRoom, q)
		if msg, _ := body["error"].(string); status != http.StatusBadRequest || msg == "" {
			t.Errorf("?%s: status %d %v, want 400 with an error", q, status, body)
		} else if !strings.Contains(msg, "calls") && !strings.Contains(msg, "code") && !strings.Contains(msg, "http_status") &&
			!strings.Contains(msg, "delay") {
			t.Errorf("?%s: error %q names no parameter", q, msg)
		}
	}
	if got := code(t, c, engine.LockSeat{RoomID: testRoom, Index: 1, ForbidAudio: engine.True}); got != 0 {
		t.Errorf("after refused faults: code %d, want 0 (nothing injected)", got)
	}
}
