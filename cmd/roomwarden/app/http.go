package app

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roomwarden/roomwarden/rules"
)

// Limits of the operations endpoint. A response gets httpWriteTimeout
// to be written; the profiler's, which take as long as they are asked
// to, get their own.
const (
	httpReadHeaderTimeout = 5 * time.Second
	httpReadTimeout       = 30 * time.Second
	httpWriteTimeout      = 30 * time.Second
	httpMaxHeaderBytes    = 64 << 10
)

// openHTTP binds the operations endpoint so that New fails on a busy port.
func (a *App) openHTTP() error {
	ln, err := net.Listen("tcp", a.cfg.HTTP.Listen)
	if err != nil {
		return &ListenError{Key: "http.listen", Addr: a.cfg.HTTP.Listen, Err: err}
	}
	lim := newLimitListener(ln, a.cfg.HTTP.MaxConnections)
	a.httpLn = lim
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", writeDeadline(promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg})))
	mux.Handle("GET /healthz", writeDeadline(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })))
	mux.Handle("GET /readyz", writeDeadline(http.HandlerFunc(a.handleReady)))
	mux.Handle("GET /rules", writeDeadline(http.HandlerFunc(a.handleRules)))
	mux.Handle("POST /-/reload", writeDeadline(a.requireToken(a.handleReload)))
	mux.Handle("POST /rules/{name}/reset", writeDeadline(a.requireToken(a.handleReset)))
	mux.Handle("POST /explain", writeDeadline(http.HandlerFunc(a.handleExplain)))
	if a.cfg.HTTP.Pprof {
		a.mountPprof(mux)
	}
	host, _, _ := net.SplitHostPort(a.cfg.HTTP.Listen)
	a.httpSrv = &http.Server{
		Handler:           guard(host, mux),
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		IdleTimeout:       a.cfg.HTTP.IdleTimeout.Duration(),
		MaxHeaderBytes:    httpMaxHeaderBytes,
		ConnState:         lim.track,
		ErrorLog:          slog.NewLogLogger(a.log.With("component", "http").Handler(), slog.LevelWarn),
	}
	a.mountConsole(mux)
	return nil
}

// writeDeadline gives a response httpWriteTimeout to be written, so a
// client that stops reading cannot hold its connection forever.
func writeDeadline(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(httpWriteTimeout))
		h.ServeHTTP(w, r)
	})
}

// mountPprof serves the Go profiler under /debug/pprof/, behind the same
// token as the other admin endpoints.
func (a *App) mountPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", a.requireToken(pprof.Index))
	mux.HandleFunc("GET /debug/pprof/cmdline", a.requireToken(pprof.Cmdline))
	mux.HandleFunc("GET /debug/pprof/profile", a.requireToken(pprof.Profile))
	mux.HandleFunc("GET /debug/pprof/symbol", a.requireToken(pprof.Symbol))
	mux.HandleFunc("GET /debug/pprof/trace", a.requireToken(pprof.Trace))
}

func (a *App) serveHTTP() {
	if err := a.httpSrv.Serve(a.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Error("http server", "component", "http", "err", err)
	}
}

func (a *App) shutdownHTTP() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = a.httpSrv.Shutdown(ctx)
}

// readiness lists every failing check; empty means ready.
func (a *App) readiness() []string {
	var bad []string
	if !a.nc.IsConnected() {
		bad = append(bad, "nats: not connected")
	}
	if err := a.intake.Ready(); err != nil {
		bad = append(bad, "consumer: "+err.Error())
	}
	if r := a.health.lastReload(); r.Err != nil {
		bad = append(bad, fmt.Sprintf("rules: last reload failed %s ago (previous rules still running): %v", since(r.Time), r.Err))
	}
	if err := a.alog.Healthy(); err != nil {
		bad = append(bad, "action log: "+err.Error())
	}
	if err := a.store.Ready(); err != nil {
		bad = append(bad, "state: "+err.Error())
	}
	if r := a.lastShadowReload(); r.Err != nil {
		bad = append(bad, fmt.Sprintf("shadow rules: last reload failed %s ago (previous shadow rules still running): %v", since(r.Time), r.Err))
	}
	return bad
}

func (a *App) handleReady(w http.ResponseWriter, _ *http.Request) {
	bad := a.readiness()
	if len(bad) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, strings.Join(bad, "\n"))
		return
	}
	fmt.Fprintln(w, "ready")
}

// rulesView is the JSON of GET /rules.
type rulesView struct {
	Hash  string     `json:"hash"`
	Files []string   `json:"files"`
	Rules []ruleView `json:"rules"`
}

type ruleView struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	File        string   `json:"file"`
	Line        int      `json:"line"`
	On          []string `json:"on"`
	Enabled     bool     `json:"enabled"`
	DryRun      bool     `json:"dry_run"`
}

func (a *App) handleRules(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, viewRules(a.watcher.Current()))
}

func viewRules(s *rules.Set) rulesView {
	v := rulesView{Hash: s.Hash(), Files: s.Files(), Rules: []ruleView{}}
	for _, r := range s.Rules() {
		v.Rules = append(v.Rules, ruleView{Name: r.Name, Description: r.Description, File: r.File,
			Line: r.Line, On: r.On, Enabled: r.Enabled, DryRun: r.DryRun})
	}
	return v
}

func (a *App) handleReload(w http.ResponseWriter, _ *http.Request) {
	r := a.Reload()
	body := map[string]any{"hash": r.Hash, "rules": r.Rules, "changed": r.Changed}
	if r.Pending != "" {
		body["pending"] = r.Pending
	}
	if r.Err != nil {
		body["error"] = r.Err.Error()
		writeJSON(w, http.StatusUnprocessableEntity, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// requireToken guards an admin handler with the bearer token from
// http.token_env; with no token configured (loopback only, enforced by
// config validation) the handler is open.
func (a *App) requireToken(next http.HandlerFunc) http.HandlerFunc {
	env := a.cfg.HTTP.TokenEnv
	return func(w http.ResponseWriter, r *http.Request) {
		if env == "" {
			next(w, r)
			return
		}
		want := os.Getenv(env)
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if want == "" || !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
