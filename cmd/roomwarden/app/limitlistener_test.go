package app

import (
	"net"
	"testing"
	"time"
)

// TestEvictIdlest: of the idle connections, the one idle longest is
// closed, and none idle for less than evictGrace (a request may be on
// its way).
func TestEvictIdlest(t *testing.T) {
	l := newLimitListener(nil, 3)
	now := time.Now()
	conns := map[string]*limitConn{}
	for name, idleFor := range map[string]time.Duration{"old": 2 * time.Second, "older": 5 * time.Second, "fresh": evictGrace / 2} {
		a, b := net.Pipe()
		defer b.Close()
		c := &limitConn{Conn: a, release: func() {}}
		conns[name] = c
		l.idle[c] = now.Add(-idleFor)
	}
	for _, want := range []string{"older", "old", ""} {
		if !l.evictIdlest(now) {
			if want != "" {
				t.Fatalf("nothing evicted, want %s", want)
			}
			continue
		}
		if want == "" {
			t.Fatal("a connection idle for less than evictGrace was evicted")
		}
		if _, still := l.idle[conns[want]]; still {
			t.Errorf("%s not evicted", want)
		}
		if _, err := conns[want].Write([]byte("x")); err == nil {
			t.Errorf("%s evicted but not closed", want)
		}
	}
	if _, still := l.idle[conns["fresh"]]; !still {
		t.Error("the fresh connection was evicted")
	}
}
