package app

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// limitListener accepts at most n connections at a time. Without a
// bound, a client opening thousands of idle connections to the
// operations endpoint could take every file descriptor the daemon has,
// and its Room Engine calls with them. When all n are taken, Accept
// closes the connection that has been idle longest (kept alive between
// requests, or accepted without sending anything), if it has been idle
// for evictGrace at least, to make room: idle connections cannot keep a
// readiness probe or a scrape out. Only when every connection is in a
// request does Accept wait for one to finish.
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once

	mu   sync.Mutex
	idle map[*limitConn]time.Time // connections not in a request, since when
}

// evictGrace is how long a connection must have been idle before Accept
// may close it for a new one: a request on its way is not cut off.
const evictGrace = 250 * time.Millisecond

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{}),
		idle: make(map[*limitConn]time.Time)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		select {
		case l.slots <- struct{}{}:
			return l.accept()
		case <-l.done:
			return nil, net.ErrClosed
		default:
		}
		wait := evictGrace
		if l.evictIdlest(time.Now()) {
			wait = time.Second // its Close gives the slot back at once
		}
		select {
		case l.slots <- struct{}{}:
			return l.accept()
		case <-l.done:
			return nil, net.ErrClosed
		case <-time.After(wait):
		}
	}
}

// accept accepts a connection into the slot the caller took.
func (l *limitListener) accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	lc := &limitConn{Conn: c}
	lc.release = func() {
		l.mu.Lock()
		delete(l.idle, lc)
		l.mu.Unlock()
		<-l.slots
	}
	l.mu.Lock()
	l.idle[lc] = time.Now() // until its first request starts
	l.mu.Unlock()
	return lc, nil
}

// evictIdlest closes the connection idle longest, if one has been idle
// for evictGrace, and reports whether it did.
func (l *limitListener) evictIdlest(now time.Time) bool {
	l.mu.Lock()
	var victim *limitConn
	for c, since := range l.idle {
		if now.Sub(since) >= evictGrace && (victim == nil || since.Before(l.idle[victim])) {
			victim = c
		}
	}
	delete(l.idle, victim)
	l.mu.Unlock()
	if victim == nil {
		return false
	}
	_ = victim.Close()
	return true
}

// track is the server's ConnState hook: it keeps the set of idle
// connections.
func (l *limitListener) track(c net.Conn, s http.ConnState) {
	lc, ok := c.(*limitConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s {
	case http.StateIdle:
		l.idle[lc] = time.Now()
	case http.StateActive, http.StateHijacked, http.StateClosed:
		delete(l.idle, lc)
	}
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back once, on the first Close.
type limitConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
