package app_test

import (
	"bufio"
	"errors"
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
// sit idle never have more than 16 connections accepted at once (the
// daemon runs in this process, so its descriptors grow by the 64
// clients' plus at most 16); the idle ones are closed to let the others
// in; and the endpoint answers throughout.
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
	if n := answered.Load(); n == 0 {
		t.Errorf("none of %d connections was answered within 500 ms", clients)
	}
	h.WaitFor(30*time.Second, "/readyz answering", func() bool {
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

// TestIdleConnectionsMakeRoom: with every connection the endpoint
// accepts taken by clients that sit idle (kept alive after a request, or
// never sending one), a new request is still answered: the connection
// idle longest is closed to make room, long before http.idle_timeout.
// Before, it waited for the idle timeout (32 s in the probe's rerun).
func TestIdleConnectionsMakeRoom(t *testing.T) {
	for _, c := range []struct {
		name    string
		request bool
	}{{"kept alive after a request", true}, {"never sending one", false}} {
		t.Run(c.name, func(t *testing.T) {
			h := daemontest.New(t)
			h.Config.HTTP.MaxConnections = 4
			h.Config.HTTP.IdleTimeout = app.Duration(time.Minute)
			a := h.Start()
			var idle []net.Conn
			for range 4 {
				conn, err := net.Dial("tcp", a.HTTPAddr())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				if c.request {
					conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
					conn.SetReadDeadline(time.Now().Add(10 * time.Second))
					resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
					if err != nil {
						t.Fatalf("the first connections are answered: %v", err)
					}
					resp.Body.Close()
				}
				idle = append(idle, conn)
			}
			time.Sleep(300 * time.Millisecond) // all four taken, all idle
			// 3 s: less than the 5 s in which the server drops a connection
			// that sends no request, far more than the eviction takes.
			client := http.Client{Timeout: 3 * time.Second}
			resp, err := client.Get("http://" + a.HTTPAddr() + "/readyz")
			if err != nil {
				t.Fatalf("a new request with 4 idle connections holding the endpoint's 4: %v (want an answer, not a wait for a connection to time out)", err)
			}
			resp.Body.Close()
			closed := 0
			for _, conn := range idle {
				conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
					closed++
				}
			}
			if closed == 0 {
				t.Error("no idle connection was closed to make room")
			}
		})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
