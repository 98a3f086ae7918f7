package app

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestLimitListener: no more than n connections are accepted at once,
// and closing one lets the next in.
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
