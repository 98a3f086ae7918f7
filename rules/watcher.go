package rules

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher defaults.
const (
	DefaultDebounce = 250 * time.Millisecond
	DefaultRecheck  = 5 * time.Second
)

// ReloadResult is the outcome of one reload.
type ReloadResult struct {
	Time    time.Time
	Trigger string // "watch", "recheck" or "manual"
	Err     error  // non-nil: the load failed and the previous set stays
	// Pending, when set, says why a change that loads was held back (a
	// file lost all its rules, which is applied once the directory has
	// stayed unchanged for a recheck period); the previous set stays.
	// It is not a failure.
	Pending  string
	Hash     string  // the hash of the files read ("" if they could not be read)
	Rules    int     // rules in the set now in use
	Changed  bool    // a new set was swapped in
	Warnings []Error // the new set's Warnings, when Changed
}

// WatcherConfig configures a Watcher. Dir is required; zero values of
// the rest take the defaults.
type WatcherConfig struct {
	Dir string // the rules directory
	// OnReload is called with the outcome of every reported reload (the
	// Watcher logs it itself); it must not block long. May be nil.
	OnReload func(ReloadResult)
	// Debounce is the quiet time awaited after the last change before
	// reloading (default DefaultDebounce).
	Debounce time.Duration
	// Recheck is the period of the safety-net reload that also re-adds a
	// lost watch, and how long a file that lost all its rules must stay
	// unchanged before the loss is applied (default DefaultRecheck).
	Recheck time.Duration
	Logger  *slog.Logger // nil: discard
}

// Watcher keeps the compiled rules of one directory current. It watches
// the directory (not the files), so saves by atomic rename, delete and
// recreate, and Kubernetes ConfigMap `..data` symlink swaps all reload.
// A new set is built completely and swapped in atomically; if it fails
// to load, the previous set stays in use. A reload never swaps in files
// that are still being written (see settle.go).
type Watcher struct {
	dir          string
	onReload     func(ReloadResult)
	log          *slog.Logger
	debounce     time.Duration
	recheckEvery time.Duration
	current      atomic.Pointer[Set]

	mu      sync.Mutex    // serialises reloads
	lastErr string        // the last error reported by a recheck
	loss    lossSighting  // a set that lost a file's rules, awaiting confirmation
	ready   chan struct{} // closed once Run has set up its watch
}

// NewWatcher loads the rules in cfg.Dir; it fails if they do not load.
// Each reload is logged once, with component=rules and the directory.
func NewWatcher(cfg WatcherConfig) (*Watcher, error) {
	if cfg.Dir == "" {
		return nil, errors.New("rules: watcher: the rules directory is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{
		dir:          cfg.Dir,
		onReload:     cfg.OnReload,
		log:          cfg.Logger.With("component", "rules", "dir", cfg.Dir),
		debounce:     cmp.Or(cfg.Debounce, DefaultDebounce),
		recheckEvery: cmp.Or(cfg.Recheck, DefaultRecheck),
		ready:        make(chan struct{}),
	}
	set, err := Load(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("load rules: %w", err)
	}
	w.current.Store(set)
	w.logWarnings(set.Warnings())
	return w, nil
}

// Current returns the set in use.
func (w *Watcher) Current() *Set { return w.current.Load() }

// Reload reloads now (SIGHUP, the HTTP API) and returns the outcome,
// which is also passed to OnReload.
func (w *Watcher) Reload() ReloadResult {
	res := w.reload("manual", nil)
	w.report(res)
	return res
}

// reload reads the directory, skips the compile if nothing changed,
// waits for the files to settle, and swaps in the new set if it loads
// and, when it lost every rule of a file, once that is confirmed (see
// settle.go). A close of stop abandons the wait.
func (w *Watcher) reload(trigger string, stop <-chan struct{}) ReloadResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := w.current.Load()
	res := ReloadResult{Time: time.Now(), Trigger: trigger, Rules: cur.Len()}
	snap, err := w.read()
	if err == nil && snap.hash != cur.Hash() {
		snap, err = w.settle(snap, settleInterval, stop)
	}
	if err != nil {
		res.Err = err
		return res
	}
	res.Hash = snap.hash
	if res.Hash == cur.Hash() {
		return res
	}
	set, err := compileSources(snap.srcs, snap.hash)
	if err != nil {
		res.Err = fmt.Errorf("load rules: %w", err)
		return res
	}
	if res.Pending = w.confirmLoss(cur, set, snap); res.Pending != "" {
		return res
	}
	w.current.Store(set)
	res.Rules, res.Changed, res.Warnings = set.Len(), true, set.Warnings()
	return res
}

// report logs a reload and passes it to OnReload. A reload abandoned
// because the watcher stops is not reported.
func (w *Watcher) report(res ReloadResult) {
	switch {
	case errors.Is(res.Err, errStopped):
		return
	case res.Err != nil:
		w.log.Error("rules reload failed; keeping the previous rules", "trigger", res.Trigger, "err", res.Err)
	case res.Pending != "":
		w.log.Warn("rules change held back; keeping the previous rules until the files are stable",
			"trigger", res.Trigger, "reason", res.Pending)
	case res.Changed:
		w.log.Info("rules reloaded", "trigger", res.Trigger, "hash", res.Hash, "rules", res.Rules)
		w.logWarnings(res.Warnings)
	default:
		w.log.Debug("rules unchanged", "trigger", res.Trigger, "hash", res.Hash)
	}
	if w.onReload != nil {
		w.onReload(res)
	}
}

// logWarnings logs a set's warnings, one line each.
func (w *Watcher) logWarnings(warnings []Error) {
	for _, warning := range warnings {
		w.log.Warn("a rule will exceed an evaluation budget", "warning", warning.Error())
	}
}

// Run watches the directory until ctx is done. Changes are debounced;
// a periodic recheck re-adds a lost watch (the directory was deleted or
// unreadable) and reloads, reporting only changes and new errors.
func (w *Watcher) Run(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch rules: %w", err)
	}
	defer fw.Close()
	watching := w.watch(fw)
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	recheck := time.NewTicker(w.recheckEvery)
	defer recheck.Stop()
	close(w.ready)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return errors.New("watch rules: watcher closed")
			}
			if ev.Name == w.dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				watching = false
			}
			debounce.Reset(w.debounce)
		case err, ok := <-fw.Errors:
			if !ok {
				return errors.New("watch rules: watcher closed")
			}
			w.log.Warn("rules watch error", "err", err)
		case <-debounce.C:
			w.report(w.reload("watch", ctx.Done()))
		case <-recheck.C:
			if !watching {
				watching = w.watch(fw)
			}
			w.recheck(ctx.Done())
		}
	}
}

// watch adds the directory to fw, reporting whether it is watched.
func (w *Watcher) watch(fw *fsnotify.Watcher) bool {
	_ = fw.Remove(w.dir)
	if err := fw.Add(w.dir); err != nil {
		w.log.Warn("cannot watch rules directory; will retry", "err", err)
		return false
	}
	return true
}

// recheck reloads, reporting changes and errors not already reported.
func (w *Watcher) recheck(stop <-chan struct{}) {
	res := w.reload("recheck", stop)
	errText := ""
	if res.Err != nil {
		errText = res.Err.Error()
	}
	repeat := errText != "" && errText == w.lastErr
	w.lastErr = errText
	if res.Changed || (res.Err != nil && !repeat) {
		w.report(res)
	}
}
