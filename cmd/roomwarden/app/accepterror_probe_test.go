package app

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/internal/syncbuf"
)

// emfileListener fails its first fails Accepts as a process out of file
// descriptors does, then accepts normally.
type emfileListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestHTTPAcceptErrorLoggedAsJSONProbe is the log line of issue [1c/6]:
// Go's "http: Accept error" (the operations endpoint out of file
// descriptors) was written as plain text into the JSON log, by the
// standard logger. The server's error log now goes through the daemon's
// slog logger: the line is JSON, a warning, with component http; and the
// endpoint keeps serving after the error.
func TestHTTPAcceptErrorLoggedAsJSONProbe(t *testing.T) {
	var logs syncbuf.Buffer
	a := &App{
		cfg: &Config{HTTP: HTTPConfig{Listen: "127.0.0.1:0", MaxConnections: 4, IdleTimeout: Duration(time.Second)}},
		log: slog.New(slog.NewJSONHandler(&logs, nil)),
		reg: prometheus.NewRegistry(),
	}
	if err := a.openHTTP(); err != nil {
		t.Fatal(err)
	}
	ln := &emfileListener{Listener: a.httpLn}
	ln.fails.Store(2)
	a.httpLn = ln
	serveHTTPInTest(t, a)

	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz after the accept errors: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("GET /healthz = %d %q, want 200 ok", resp.StatusCode, body)
	}

	var found int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if !strings.Contains(line, "http: Accept error") {
			continue
		}
		found++
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON (%v): %s", err, line)
			continue
		}
		if rec["level"] != "WARN" || rec["component"] != "http" ||
			!strings.Contains(rec["msg"].(string), "too many open files") {
			t.Errorf("log line %s, want level WARN, component http and the error", line)
		}
	}
	if found != 2 {
		t.Errorf("%d \"http: Accept error\" lines in the daemon's log, want 2:\n%s", found, logs.String())
	}
}

// serveHTTPInTest serves a's operations endpoint on its listener until
// the test ends.
func serveHTTPInTest(t *testing.T, a *App) {
	t.Helper()
	served := make(chan struct{})
	go func() {
		defer close(served)
		a.serveHTTP()
	}()
	t.Cleanup(func() {
		a.shutdownHTTP()
		<-served
	})
}
