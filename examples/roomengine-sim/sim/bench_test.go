package sim

import (
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/sinks/roomengine"
)

// BenchmarkSimLockSeat is one client call answered by the simulator, with
// the rate limit off: the simulator's own cost plus the loopback round
// trip.
func BenchmarkSimLockSeat(b *testing.B) {
	s, err := New(Config{SecretKey: []byte(testKey), SDKAppID: testApp, Limit: -1, MaxCalls: 1 << 16, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	s.AddRoom("room-test", DefaultSeats)
	ts := httptest.NewServer(s)
	defer ts.Close()
	c, err := roomengine.New(roomengine.Config{Endpoint: ts.URL, SDKAppID: testApp, Identifier: testAdmin, SecretKey: []byte(testKey)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p := engine.LockSeat{RoomID: "room-test", Index: 2, ForbidAudio: engine.True}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.LockSeat(b.Context(), p); err != nil {
			b.Fatal(err)
		}
	}
}
