package app_test

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// TestOpsEndpointBoundsConnections is the probe of issue [1c/6] item 4:
// idle keep-alive connections to the operations endpoint must not pile
// up until the daemon runs out of file descriptors. With
// http.max_connections 16, 64 clients that each make a request and then
// sit idle get at most 16 connections accepted (the daemon runs in this
// process, so its descriptors grow by the 64 clients' plus at most 16);
// the server closes the idle ones after http.idle_timeout; and the
// endpoint answers again.
func TestOpsEndpointBoundsConnections(t *testing.T) {
	h := daemontest.New(t)
	h.Config.HTTP.MaxConnections = 16
	h.Config.HTTP.IdleTimeout = app.Duration(time.Second)
	a := h.Start()
	before := openFDs(t)
	const clients = 64

	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range clients {
		c, err := net.Dial("tcp", a.HTTPAddr())
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, c)
		// A request, then silence: the connection stays open, idle.
		c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
	}
	// Count the answers within a moment shorter than the idle timeout:
	// only the accepted connections get one.
	var answered atomic.Int32
	var wg sync.WaitGroup
	deadline := time.Now().Add(500 * time.Millisecond)
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		wg.Go(func() {
			if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
				resp.Body.Close()
				answered.Add(1)
			}
		})
	}
	wg.Wait()
	if grew := openFDs(t) - before; grew > clients+16+4 {
		t.Errorf("descriptors grew by %d with %d idle clients, want at most %d (the clients) + 16 (+4 slack)", grew, clients, clients)
	}
	if n := answered.Load(); n > 16 || n == 0 {
		t.Errorf("%d of %d connections were answered within 500 ms, want 1 to 16", n, clients)
	}
	// The idle ones are closed after idle_timeout, and the rest get in.
	h.WaitFor(30*time.Second, "/readyz answering again", func() bool {
		code, _ := h.Get("/readyz")
		return code == http.StatusOK
	})
}

// openFDs counts this process's open file descriptors (the daemon runs
// in the test process).
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}
