package benchtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// WindowWorkload is the workload with windows: RulesYAML's rules, of
// which Windows are replaced by rules reading windows, and events of
// which a share are reports that feed them.
//
// Window j counts the reports of reason j (Reason(j)) over a minute:
// even j the reports against a user (key event.user.id), odd j the
// distinct reporters in a room (key event.room_id, distinct
// attrs.reporter). Rule j reads window j and locks the seat once it
// reaches WindowThreshold, with a ten-minute cooldown on the window's
// key; it runs on the report itself (the count its feed returned, no
// read), except when j%5 == 4, where it runs on member.enter and reads
// the window of the entering user or room (one read of the store per
// member.enter event and such rule).
//
// Every WindowEvery-th event is a report (user.flagged with
// attrs.reason and attrs.reporter), of reason j in turn, about one of
// Keys users in one of Keys rooms (ru-<k>, rr-<k>, apart from the other
// events' users and rooms) and from a reporter of its own (so the
// distinct count is the report count, whatever order the daemon
// evaluates them in). The other events are Generator's, matching the
// Rules-Windows plain rules one in MatchEvery.
type WindowWorkload struct {
	Rules       int // rules in all, the window readers included
	Windows     int // windows, each read by one rule
	WindowEvery int // one event in this many feeds a window
	MatchEvery  int // one event in this many matches a plain rule (0: none)
	Keys        int // users and rooms the reports are about
}

// WindowThreshold is the count at which a window rule acts.
const WindowThreshold = 3

// windowSpan is every window's length.
const windowSpan = time.Minute

// Validate reports what is wrong with w.
func (w WindowWorkload) Validate() error {
	var errs []error
	if w.Windows < 1 || w.Windows > w.Rules {
		errs = append(errs, fmt.Errorf("windows %d: want 1 to the number of rules (%d)", w.Windows, w.Rules))
	}
	if w.WindowEvery < 2 {
		errs = append(errs, fmt.Errorf("one event in %d feeding a window: want at least 2", w.WindowEvery))
	}
	if w.MatchEvery < 0 {
		errs = append(errs, errors.New("match-every must not be negative"))
	}
	if w.Keys < 1 {
		errs = append(errs, fmt.Errorf("keys %d: want at least 1", w.Keys))
	}
	return errors.Join(errs...)
}

// Reason returns the report reason window j counts.
func Reason(j int) string {
	known := [...]string{"spam", "harassment", "hate", "nudity", "violence",
		"self_harm", "scam", "impersonation", "minor_safety", "other"}
	if j < len(known) {
		return known[j]
	}
	return fmt.Sprintf("reason_%02d", j)
}

// WindowName returns the name of window j.
func WindowName(j int) string {
	if j%2 == 0 {
		return "reports_" + Reason(j)
	}
	return "reporters_" + Reason(j)
}

// windowKeyExpr is window j's key: the user (even j) or the room.
func windowKeyExpr(j int) string {
	if j%2 == 0 {
		return "event.user.id"
	}
	return "event.room_id"
}

// readsOnEnter reports whether window j's rule runs on member.enter
// (reading the window) rather than on the report (feeding it).
func readsOnEnter(j int) bool { return j%5 == 4 }

// RulesYAML returns the rules file: the windows, RulesYAML's first
// Rules-Windows rules, and one rule per window.
func (w WindowWorkload) RulesYAML() []byte {
	var b strings.Builder
	b.WriteString("windows:\n")
	for j := range w.Windows {
		fmt.Fprintf(&b, `  %s:
    on: [user.flagged]
    when: attr_string("reason") == %q
    key: %s
    for: %s
`, WindowName(j), Reason(j), windowKeyExpr(j), windowSpan)
		if j%2 == 1 {
			b.WriteString("    distinct: attr_string(\"reporter\")\n")
		}
	}
	b.Write(RulesYAML(w.Rules - w.Windows))
	for j := range w.Windows {
		on, when := "user.flagged", fmt.Sprintf("attr_string(\"reason\") == %q && ", Reason(j))
		if readsOnEnter(j) {
			on, when = "member.enter", ""
		}
		fmt.Fprintf(&b, `  - name: window-%02d
    on: [%s]
    when: %swindow(%q) >= %d
    actions:
      - lock_seat: {room_id: event.room_id, index: event.seat.index, forbid_audio: true}
    cooldown: {key: %s, for: 10m}
`, j, on, when, WindowName(j), WindowThreshold, windowKeyExpr(j))
	}
	return []byte(b.String())
}

// WindowGenerator produces the events of a WindowWorkload. It follows
// the windows' counts as the daemon will (every event evaluated at its
// publish time), so it knows which reports a window rule acts on. It is
// not safe for concurrent use.
type WindowGenerator struct {
	w       WindowWorkload
	plain   *Generator
	rng     *rand.Rand
	buf     []byte
	entries []map[string][]time.Time // per window and key: the reports' times
	reports int
	acts    int
}

// NewWindowGenerator returns a generator for w, which must be valid.
// seed makes runs repeatable.
func NewWindowGenerator(w WindowWorkload, seed uint64) *WindowGenerator {
	g := &WindowGenerator{w: w, plain: NewGenerator(w.Rules-w.Windows, w.MatchEvery, seed),
		rng: rand.New(rand.NewPCG(seed^0x5bd1e995, seed)), entries: make([]map[string][]time.Time, w.Windows)}
	for j := range g.entries {
		g.entries[j] = make(map[string][]time.Time)
	}
	return g
}

// Next returns event number seq, stamped with the time at. Match is
// true for an event a plain rule matches and for a report that brings
// its window to the threshold or beyond (an action, or a line with
// outcome suppressed once the rule's cooldown runs): exactly one rule
// acts on each such event.
func (g *WindowGenerator) Next(seq uint64, at time.Time) Event {
	every := uint64(g.w.WindowEvery)
	if seq%every != every-1 || (g.w.MatchEvery > 0 && seq%uint64(g.w.MatchEvery) == 0) {
		return g.plain.Next(seq, at)
	}
	j := g.reports % g.w.Windows
	g.reports++
	user, room := g.rng.IntN(g.w.Keys), g.rng.IntN(g.w.Keys)
	g.buf = appendReport(g.buf[:0], seq, at, j, user, room, g.rng.IntN(8))
	key := "ru-" + strconv.Itoa(user)
	if j%2 == 1 {
		key = "rr-" + strconv.Itoa(room)
	}
	match := g.count(j, key, at) >= WindowThreshold && !readsOnEnter(j)
	if match {
		g.acts++
	}
	return Event{Subject: "rooms.events.user.flagged", Data: g.buf, Match: match}
}

// count records a report at key in window j and returns the window's
// count there.
func (g *WindowGenerator) count(j int, key string, at time.Time) int {
	ts := g.entries[j][key]
	kept := ts[:0]
	for _, t := range ts {
		if t.After(at.Add(-windowSpan)) {
			kept = append(kept, t)
		}
	}
	kept = append(kept, at)
	g.entries[j][key] = kept
	return len(kept)
}

// Reports returns how many reports (events feeding a window) Next has
// returned.
func (g *WindowGenerator) Reports() int { return g.reports }

// WindowActs returns how many of them a window rule acts on.
func (g *WindowGenerator) WindowActs() int { return g.acts }

// Report returns a report of reason j about user ru-<user> in room
// rr-<room>: event number seq, stamped with at, from a reporter of its
// own. It feeds window j at one key, and WindowGenerator does not
// count it.
func (g *WindowGenerator) Report(seq uint64, at time.Time, j, user, room int) Event {
	g.buf = appendReport(g.buf[:0], seq, at, j, user, room, 0)
	return Event{Subject: "rooms.events.user.flagged", Data: g.buf}
}

// appendReport writes one report, padded to EventSize with an attrs
// string: a user.flagged event whose user is not flagged by a
// classifier (user.flagged false, no score), so no plain rule matches it.
func appendReport(b []byte, seq uint64, at time.Time, j, user, room, seat int) []byte {
	b = append(b, `{"id":"`...)
	b = AppendID(b, seq, at)
	b = append(b, `","type":"user.flagged","time":"`...)
	b = at.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","room_id":"rr-`...)
	b = strconv.AppendInt(b, int64(room), 10)
	b = append(b, `","user":{"id":"ru-`...)
	b = strconv.AppendInt(b, int64(user), 10)
	b = append(b, `"},"seat":{"index":`...)
	b = strconv.AppendInt(b, int64(seat), 10)
	b = append(b, `},"attrs":{"reason":"`...)
	b = append(b, Reason(j)...)
	b = append(b, `","reporter":"rp-`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `","pad":"`...)
	for len(b) < EventSize-3 {
		b = append(b, 'x')
	}
	return append(b, `"}}`...)
}
