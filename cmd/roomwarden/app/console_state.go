package app

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

// consoleListLimit bounds the pending undos and overrides listed.
const consoleListLimit = 100

// consoleStateTimeout bounds the state store reads of one request.
const consoleStateTimeout = 3 * time.Second

// consoleState is the JSON of GET /console/state. It holds nothing
// secret: no token, key or usersig (the page asks the operator for the
// token; token_required only says whether it must).
type consoleState struct {
	Now           time.Time       `json:"now"`
	TokenRequired bool            `json:"token_required"`
	Hash          string          `json:"hash"`
	Rules         []consoleRule   `json:"rules"`
	Events        int64           `json:"events_received"`
	Reload        reloadView      `json:"reload"`
	PendingUndos  []undoView      `json:"pending_undos"`
	Overrides     []overrideView  `json:"overrides"`
	Tripped       []trippedView   `json:"tripped"`
	Limit         int             `json:"limit"` // pending_undos and overrides are cut at this many
	StateError    string          `json:"state_error,omitempty"`
	Live          consoleLiveView `json:"live"`
}

type reloadView struct {
	Time     time.Time `json:"time"`
	Trigger  string    `json:"trigger"`
	OK       bool      `json:"ok"`
	Changed  bool      `json:"changed"`
	Rules    int       `json:"rules"`
	Hash     string    `json:"hash"`
	Errors   []string  `json:"errors"`   // file:line:col: message, one each
	Warnings []string  `json:"warnings"` // the same, for the set's load-time warnings
}

type seatFlagView struct {
	RoomID string `json:"room_id"`
	Index  int    `json:"index"`
	Flag   string `json:"flag"`
}

type undoView struct {
	seatFlagView
	Rule    string    `json:"rule"`
	EventID string    `json:"event_id"`
	At      time.Time `json:"at"`
	End     time.Time `json:"end"`
}

type overrideView struct {
	seatFlagView
	Until time.Time `json:"until"`
}

// trippedView is a tripped rule in force: its name (what
// POST /rules/{name}/reset takes) and its budget's key in the store (the
// name and the rule's version, engine.BudgetKey).
type trippedView struct {
	Rule string `json:"rule"`
	Key  string `json:"key"`
}

type consoleLiveView struct {
	Streams    int `json:"streams"`
	MaxStreams int `json:"max_streams"`
}

func (a *App) handleConsoleState(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, a.consoleState(r.Context()))
}

func (a *App) consoleState(ctx context.Context) consoleState {
	set := a.watcher.Current()
	counts := gatherRuleCounts(a.reg)
	st := consoleState{Now: time.Now().UTC(), TokenRequired: a.cfg.HTTP.TokenEnv != "", Hash: set.Hash(),
		Rules: consoleRules(set, counts), Events: counts.events, Reload: viewReload(a.health.lastReload()),
		Limit: consoleListLimit,
		Live:  consoleLiveView{Streams: len(a.console.streams), MaxStreams: cap(a.console.streams)}}
	var err error
	st.PendingUndos, st.Overrides, st.Tripped, err = a.consoleStore(ctx, set)
	if err != nil {
		st.StateError = err.Error()
	}
	return st
}

// consoleStore reads the pending undos, overrides and tripped rules.
// Only trips of the versions in force are listed (a reload that changes
// a rule starts its budget afresh; TrippedRules forgets the old trips).
func (a *App) consoleStore(ctx context.Context, set *rules.Set) ([]undoView, []overrideView, []trippedView, error) {
	ctx, cancel := context.WithTimeout(ctx, consoleStateTimeout)
	defer cancel()
	undos, overrides, tripped := []undoView{}, []overrideView{}, []trippedView{}
	locks, err1 := a.store.PendingUndos(ctx, consoleListLimit)
	for _, l := range locks {
		undos = append(undos, undoView{seatFlagView: viewSeatFlag(l.SeatFlag), Rule: l.Rule, EventID: l.EventID, At: l.At, End: l.End})
	}
	ovs, err2 := a.store.Overrides(ctx, time.Now(), consoleListLimit)
	for _, o := range ovs {
		overrides = append(overrides, overrideView{seatFlagView: viewSeatFlag(o.SeatFlag), Until: o.Until})
	}
	keys, err3 := a.store.Tripped(ctx)
	for _, k := range keys {
		name, _, _ := strings.Cut(k, "@") // rule names hold no '@'
		if r := set.Rule(name); r != nil && engine.BudgetKey(r) == k {
			tripped = append(tripped, trippedView{Rule: name, Key: k})
		}
	}
	return undos, overrides, tripped, errors.Join(err1, err2, err3)
}

func viewSeatFlag(f state.SeatFlag) seatFlagView {
	return seatFlagView{RoomID: f.RoomID, Index: f.Index, Flag: f.Flag}
}

// viewReload lays a reload out with its errors one per line.
func viewReload(r rules.ReloadResult) reloadView {
	v := reloadView{Time: r.Time, Trigger: r.Trigger, OK: r.Err == nil, Changed: r.Changed, Rules: r.Rules,
		Hash: r.Hash, Errors: errorLines(r.Err), Warnings: []string{}}
	if v.Trigger == "" {
		v.Trigger = "start"
	}
	for _, w := range r.Warnings {
		v.Warnings = append(v.Warnings, w.Error())
	}
	if r.Pending != "" {
		v.Warnings = append(v.Warnings, "change held back: "+r.Pending)
	}
	return v
}

// errorLines splits a reload error into its problems, file:line:col
// first.
func errorLines(err error) []string {
	lines := []string{}
	if err == nil {
		return lines
	}
	var list rules.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			lines = append(lines, e.Error())
		}
		return lines
	}
	for l := range strings.Lines(err.Error()) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return slices.Clip(lines)
}
