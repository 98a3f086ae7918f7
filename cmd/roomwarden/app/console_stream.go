package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/roomwarden/roomwarden/engine"
)

// The live action stream: server-sent events, one "outcome" event per
// action log line.
const (
	consoleBacklog    = 50               // outcomes a new stream starts with
	consoleHeartbeat  = 15 * time.Second // a comment keeps proxies from closing an idle stream
	consoleRetry      = 3 * time.Second  // how soon EventSource reconnects
	consoleMaxStreams = 32               // live streams at once, at most
)

// maxConsoleStreams caps the live streams at a quarter of
// http.max_connections (and at consoleMaxStreams), so that open consoles
// can never take the connections that /metrics and the probes need.
func maxConsoleStreams(maxConns int) int {
	return max(1, min(consoleMaxStreams, maxConns/4))
}

// handleConsoleStream sends the last outcomes, then each new one as it
// is recorded, until the client goes, falls behind or the server shuts
// down. Events: "reset" (the list follows from scratch), "outcome" (an
// action log line), "ready" (the backlog has been sent; what follows is
// new), "dropped" (the client fell behind; EventSource reconnects and
// starts over).
func (a *App) handleConsoleStream(w http.ResponseWriter, r *http.Request) {
	c := a.console
	select {
	case c.streams <- struct{}{}:
		defer func() { <-c.streams }()
	default:
		w.Header().Set("Retry-After", "10")
		http.Error(w, fmt.Sprintf("too many live consoles: at most %d at once (a quarter of http.max_connections, up to %d); close one or retry later",
			cap(c.streams), consoleMaxStreams), http.StatusServiceUnavailable)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{}) // the request is read; the stream outlives http's read timeout
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")

	if r.Method == http.MethodHead {
		return
	}
	backlog, sub := a.live.Subscribe()
	defer sub.Close()
	s := &sseWriter{w: w, rc: rc}
	s.printf("retry: %d\n\nevent: reset\ndata: {}\n\n", consoleRetry.Milliseconds())
	for _, o := range backlog {
		s.outcome(o)
	}
	s.printf("event: ready\ndata: {}\n\n")
	s.flush()
	heartbeat := time.NewTicker(consoleHeartbeat)
	defer heartbeat.Stop()
	for s.err == nil {
		select {
		case <-r.Context().Done():
			return
		case <-c.done:
			return
		case <-heartbeat.C:
			s.printf(": heartbeat\n\n")
		case o, ok := <-sub.C:
			if !ok {
				if sub.Dropped() {
					s.printf("event: dropped\ndata: {\"reason\":\"this console fell behind the action log\"}\n\n")
					s.flush()
				}
				return
			}
			s.outcome(o)
		}
		s.flush()
	}
}

// sseWriter writes events, each write with its own deadline, and keeps
// the first error: after it, every call does nothing.
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	err error
}

func (s *sseWriter) printf(format string, args ...any) {
	if s.err != nil {
		return
	}
	if err := s.rc.SetWriteDeadline(time.Now().Add(httpWriteTimeout)); err != nil {
		s.err = err
		return
	}
	_, s.err = fmt.Fprintf(s.w, format, args...)
}

// outcome writes o as an action log line. encoding/json escapes <, >
// and & in strings, so no event text reaches the page as markup.
func (s *sseWriter) outcome(o engine.Outcome) {
	b, err := json.Marshal(o)
	if err != nil {
		return
	}
	s.printf("event: outcome\ndata: %s\n\n", b)
}

func (s *sseWriter) flush() {
	if s.err == nil {
		s.err = s.rc.Flush()
	}
}
