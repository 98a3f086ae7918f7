package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/roomwarden/roomwarden/internal/benchtest"
)

// The workloads of the commands that start a daemon: the plain one
// (benchtest.RulesYAML's rules, one event in -match-every matching one),
// the windows one (-windows: benchtest.WindowWorkload, a share of the
// events feeding windows; windows.go), and two in which every event
// touches the state bucket (-state).

// The -state workloads.
const (
	// stateWindow: every event a report about one of -window-keys rooms,
	// feeding a window keyed by room (roomWindowRules, roomReports).
	stateWindow = "window"
	// stateCooldown: every event matching a rule with a cooldown, in a
	// room of its own (cooldownEvents).
	stateCooldown = "cooldown"
)

// eventSource is an event generator: one of the workloads'.
type eventSource interface {
	Next(seq uint64, at time.Time) benchtest.Event
}

// check validates the flags before anything starts.
func (f daemonFlags) check() error {
	switch f.state {
	case "":
	case stateWindow, stateCooldown:
		if f.win.windows > 0 {
			return errors.New("-state and -windows are two workloads: choose one")
		}
		if f.rules < 1 {
			return fmt.Errorf("-rules %d: -state wants at least 1", f.rules)
		}
		if f.state == stateWindow && f.win.keys < 1 {
			return fmt.Errorf("-window-keys %d: want at least 1", f.win.keys)
		}
		return nil
	default:
		return fmt.Errorf("-state %q: want %s or %s", f.state, stateWindow, stateCooldown)
	}
	if f.win.windows == 0 {
		return nil
	}
	_, err := f.workload()
	return err
}

// rulesYAML is the daemon's rules file: the workload's rules.
func (f daemonFlags) rulesYAML() []byte {
	switch f.state {
	case stateWindow:
		return roomWindowRules(f.rules)
	case stateCooldown:
		return benchtest.RulesYAML(f.rules)
	}
	if w, err := f.workload(); f.win.windows > 0 && err == nil {
		return w.RulesYAML()
	}
	return benchtest.RulesYAML(f.rules)
}

// events returns the generator of these flags' workload.
func (f daemonFlags) events(seed uint64) eventSource {
	switch f.state {
	case stateWindow:
		return newRoomReports(f.win.keys, f.matchEvery, seed)
	case stateCooldown:
		return newCooldownEvents(f.rules)
	}
	if w, err := f.workload(); f.win.windows > 0 && err == nil {
		return benchtest.NewWindowGenerator(w, seed)
	}
	return benchtest.NewGenerator(f.rules, f.matchEvery, seed)
}

// cooldownEvents are the events of -state cooldown and of `mem`: event
// seq matches rule seq mod rules of benchtest.RulesYAML and no other,
// in room room-<seq>, so each one starts a cooldown key of its own.
type cooldownEvents struct {
	g     *benchtest.Generator
	rules int
}

func newCooldownEvents(rules int) cooldownEvents {
	return cooldownEvents{g: benchtest.NewGenerator(rules, 0, 1), rules: rules}
}

func (c cooldownEvents) Next(seq uint64, at time.Time) benchtest.Event {
	return c.g.Matching(seq, int(seq%uint64(c.rules)), at)
}

// roomWindow is the window of -state window.
const roomWindow = "room_reports"

// roomWindowRules are the rules of -state window, n in all: the window
// roomWindow, counting every report (user.flagged) by room over ten
// minutes; benchtest.RulesYAML's first n-1 rules, which no report
// matches; and a rule that reads the window on the reports of reason
// benchtest.Reason(1) (the probes) and acts on each, with the plain
// rules' cooldown. It reads the count the report's own feed returned,
// so the window costs one feed per event and no read.
func roomWindowRules(n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `windows:
  %s:
    on: [user.flagged]
    key: event.room_id
    for: 10m
`, roomWindow)
	b.Write(benchtest.RulesYAML(n - 1))
	fmt.Fprintf(&b, `  - name: room-reports-probe
    on: [user.flagged]
    when: attr_string("reason") == %q && window(%q) >= 1
    actions:
      - lock_seat: {room_id: event.room_id, index: event.seat.index, forbid_audio: true}
    cooldown: {key: event.room_id, for: 1m}
`, benchtest.Reason(1), roomWindow)
	return b.Bytes()
}

// roomReports are the events of -state window: every event a report
// about a user and a room drawn from keys each, so it feeds roomWindow
// at its room; one in matchEvery (0: none) is a probe, which the probe
// rule acts on (Match), so its decision can be timed like the plain
// workload's matching events.
type roomReports struct {
	g                *benchtest.WindowGenerator
	rng              *rand.Rand
	keys, matchEvery int
	reports          int
}

func newRoomReports(keys, matchEvery int, seed uint64) *roomReports {
	return &roomReports{g: newReportFormatter(seed), rng: rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d)), keys: keys, matchEvery: matchEvery}
}

func (r *roomReports) Next(seq uint64, at time.Time) benchtest.Event {
	probe := r.matchEvery > 0 && seq%uint64(r.matchEvery) == 0
	reason := 0
	if probe {
		reason = 1
	}
	r.reports++
	e := r.g.Report(seq, at, reason, r.rng.IntN(r.keys), r.rng.IntN(r.keys))
	e.Match = probe
	return e
}

// Reports returns how many reports (events feeding the window) Next
// has returned.
func (r *roomReports) Reports() int { return r.reports }
