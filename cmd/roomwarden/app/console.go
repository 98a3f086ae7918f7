package app

import (
	"embed"
	"io/fs"
	"net/http"
	"sync"

	"github.com/roomwarden/roomwarden/sinks/live"
)

// The console is the web page for ops at GET / on the operations
// endpoint: the rules in force with their counts, the actions as they
// happen, the state that outlives events (pending undos, overrides,
// tripped rules), the last reload and an explain form. It is plain HTML,
// CSS and JavaScript embedded in the binary, and it only reads: the
// buttons that change something call the token-guarded endpoints
// (POST /-/reload, POST /rules/{name}/reset) with the bearer token the
// operator types in, which the page keeps in sessionStorage.
//
//	GET /                          the page
//	GET /console/{console.css,console.js}
//	GET /console/state             JSON: rules and counts, reload, state (console_state.go)
//	GET /console/actions/stream    server-sent events: the action log live (console_stream.go)

//go:embed console
var consoleFiles embed.FS

// consoleCSP allows the page its own script, style and requests and
// nothing else: no inline script or style, no framing, no form posts.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// consoleAssets are the files served under /console/.
var consoleAssets = map[string]bool{"console.css": true, "console.js": true}

// console is the state of the console's handlers.
type console struct {
	files   fs.FS
	streams chan struct{} // one slot per open live stream

	done     chan struct{} // closed when the HTTP server shuts down: live streams end
	doneOnce sync.Once
}

// mountConsole serves the console on mux and creates the live recorder
// that the engine's outcomes fan out to. Call it once a.httpSrv exists:
// the live streams end when that server shuts down.
func (a *App) mountConsole(mux *http.ServeMux) {
	files, err := fs.Sub(consoleFiles, "console")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	c := &console{files: files, streams: make(chan struct{}, maxConsoleStreams(a.cfg.HTTP.MaxConnections)),
		done: make(chan struct{})}
	a.console = c
	a.live = live.New(live.Config{Size: consoleBacklog})
	a.httpSrv.RegisterOnShutdown(c.shutdown)

	mux.Handle("GET /{$}", consoleHeaders(writeDeadline(http.HandlerFunc(c.handleIndex))))
	mux.Handle("GET /console/{file}", consoleHeaders(writeDeadline(http.HandlerFunc(c.handleAsset))))
	mux.Handle("GET /console/state", consoleHeaders(writeDeadline(http.HandlerFunc(a.handleConsoleState))))
	// No writeDeadline: a stream sets a deadline on each of its writes.
	mux.Handle("GET /console/actions/stream", consoleHeaders(http.HandlerFunc(a.handleConsoleStream)))
}

func (c *console) shutdown() { c.doneOnce.Do(func() { close(c.done) }) }

func (c *console) handleIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, c.files, "index.html")
}

func (c *console) handleAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !consoleAssets[name] {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, c.files, name)
}

// consoleHeaders sets the security headers of every console response.
func consoleHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", consoleCSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}
