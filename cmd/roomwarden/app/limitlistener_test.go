package app

import (
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestLimitListener: no more than n connections are accepted at once,
// and closing one lets the next in. The accepted connections are marked
// as in a request (as the server's ConnState hook does), so none is idle
// and Accept may not close one to make room.
func TestLimitListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const limit = 4
	l := newLimitListener(ln, limit)
	defer l.Close()
	var open, most atomic.Int32
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			l.track(c, http.StateActive)
			n := open.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			accepted <- c
		}
	}()
	var clients []net.Conn
	for range 10 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	var held []net.Conn
	for range limit {
		held = append(held, <-accepted)
	}
	select {
	case c := <-accepted:
		t.Fatalf("a %dth connection was accepted while %d were open (%v)", limit+1, limit, c.RemoteAddr())
	case <-time.After(200 * time.Millisecond):
	}
	open.Add(-2)
	held[0].Close()
	held[1].Close()
	for range 2 {
		select {
		case <-accepted:
		case <-time.After(10 * time.Second):
			t.Fatal("closing two connections did not let two more in")
		}
	}
	if m := most.Load(); m > limit {
		t.Errorf("%d connections were open at once, want at most %d", m, limit)
	}
}

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
