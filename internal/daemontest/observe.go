package daemontest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/roomwarden/roomwarden/internal/syncbuf"

	"github.com/roomwarden/roomwarden/engine"
)

// ActionLog reads every outcome in the action log so far.
func (h *Harness) ActionLog() []engine.Outcome {
	h.T.Helper()
	data, err := os.ReadFile(h.LogPath)
	if err != nil && !os.IsNotExist(err) {
		h.T.Fatalf("read action log: %v", err)
	}
	var out []engine.Outcome
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var o engine.Outcome
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			h.T.Fatalf("action log line %q: %v", sc.Text(), err)
		}
		out = append(out, o)
	}
	return out
}

// WaitFor polls cond until it holds or timeout passes, then fails the
// test with what describe says.
func (h *Harness) WaitFor(timeout time.Duration, what string, cond func() bool) {
	h.T.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			h.T.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitActions waits until the action log holds at least n outcomes.
func (h *Harness) WaitActions(n int, timeout time.Duration) []engine.Outcome {
	h.T.Helper()
	var got []engine.Outcome
	h.WaitFor(timeout, fmt.Sprintf("%d action log lines", n), func() bool {
		got = h.ActionLog()
		return len(got) >= n
	})
	return got
}

// Get fetches a path on the daemon's operations endpoint.
func (h *Harness) Get(path string) (int, string) {
	h.T.Helper()
	return h.do(http.MethodGet, path, "")
}

// Post posts to a path on the operations endpoint with an optional
// bearer token.
func (h *Harness) Post(path, token string) (int, string) {
	h.T.Helper()
	return h.do(http.MethodPost, path, token)
}

func (h *Harness) do(method, path, token string) (int, string) {
	req, err := http.NewRequest(method, "http://"+h.app.HTTPAddr()+path, nil)
	if err != nil {
		h.T.Fatalf("request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Metric returns the value of the first sample of /metrics whose line
// starts with series (name and labels as exposed), or -1 if absent.
func (h *Harness) Metric(series string) float64 {
	h.T.Helper()
	_, body := h.Get("/metrics")
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return -1
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type SyncBuffer = syncbuf.Buffer
