// Package ruletest runs rule tests (*_test.yaml, parsed by the rules
// package) through the engine's own decision path on a simulated clock,
// and explains failures as a diff of expected and fired actions. It is
// what `roomwarden test` runs.
package ruletest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/offline"
	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

// CaseResult is the outcome of one rule test case.
type CaseResult struct {
	Case   rules.TestCase
	Want   []Fired
	Got    []Fired
	Errors []string // rule runtime errors and expectations naming unknown rules
	Pass   bool
}

// Fired is one action that reached an outcome other than suppressed: a
// lock_seat, unlock_seat or label, with its outcome, duration and time.
type Fired struct {
	Rule     string
	Kind     string // lock_seat, unlock_seat or label
	LockSeat engine.LockSeat
	Label    engine.Label // List and Member
	Outcome  string
	For      time.Duration
	At       time.Duration // from the case's start
	// HasFor and HasAt: whether For and At are compared (an expectation
	// asserts them only when it gives them).
	HasFor, HasAt bool
}

// Identifier is the Room Engine identifier rule tests run as: seat
// changes whose attrs.operator is anything else can be a moderator's
// override.
const Identifier = "administrator"

// RunCase runs one case against s through the daemon's decision path,
// the engine's Decider, in a fresh offline world on a simulated clock:
// every event is decided at its time; an action that runs succeeds at
// once (as the Room Engine simulator would); a timed lock's undo runs
// when the clock reaches its end (an event or a clock step at or after
// it); KV-backed lists hold the case's `lists` members. Suppressed
// actions do not fire; rule runtime errors fail the case.
func RunCase(s *rules.Set, tc rules.TestCase) CaseResult {
	r := &run{set: s, tc: tc, world: offline.New(offline.Config{Identifier: Identifier}), start: tc.Start,
		res: CaseResult{Case: tc, Want: []Fired{}, Got: []Fired{}}}
	r.expectations()
	r.seedLists()
	for i, te := range tc.Events {
		if te.Step {
			r.undos(r.world.Advance(te.At))
			continue
		}
		step, err := r.world.Decide(context.Background(), s, &te.Event, "case-event-"+strconv.Itoa(i), te.At)
		r.undos(step.Undos)
		if err != nil {
			r.errorf("event %s: %v", te.Event.ID, err)
			continue
		}
		r.noteErrors(step, te.Event.ID)
		for _, dec := range step.Decisions {
			r.outcome(dec, te)
		}
	}
	r.res.Pass = len(r.res.Errors) == 0 && matchAll(r.res.Want, r.res.Got)
	return r.res
}

// run is one case being run.
type run struct {
	set   *rules.Set
	tc    rules.TestCase
	world *offline.World
	start time.Time
	res   CaseResult
}

func (r *run) errorf(format string, args ...any) {
	r.res.Errors = append(r.res.Errors, fmt.Sprintf(format, args...))
}

// expectations converts the case's expectations, checking their rules.
func (r *run) expectations() {
	for _, e := range r.tc.Expect {
		if r.set.Rule(e.Rule) == nil {
			r.errorf("expect names rule %q, which is not loaded", e.Rule)
		}
		r.res.Want = append(r.res.Want, Fired{Rule: e.Rule, Kind: e.Kind, LockSeat: engine.LockSeatOf(e.LockSeat),
			Label: engine.Label{List: e.Label.List, Member: e.Label.Member}, Outcome: e.Outcome,
			For: e.For, HasFor: e.HasFor, At: e.At, HasAt: e.HasAt})
	}
}

// seedLists gives the case's KV-backed lists their members.
func (r *run) seedLists() {
	for name, members := range r.tc.Lists {
		l := r.set.Lists()[name]
		if l == nil || l.Bucket == "" {
			r.errorf("lists names %q, which is not a KV-backed list of the rules (lists: {%s: {kv: BUCKET}})", name, name)
			continue
		}
		for _, m := range members {
			_ = r.world.Store().AddMember(context.Background(), l.Bucket, m, r.start, 0)
		}
	}
}

// noteErrors fails the case on the rules and windows that failed.
func (r *run) noteErrors(step offline.Step, eventID string) {
	for _, m := range step.Matched {
		if m.Err != nil {
			r.errorf("event %s: %v", eventID, m.Err)
		}
	}
	for _, err := range step.WindowErrors {
		r.errorf("event %s: %v", eventID, err)
	}
}

// outcome notes one decision made at te's time; one with no outcome
// ran and succeeded.
func (r *run) outcome(dec engine.Decision, te rules.TestEvent) {
	a := dec.Action
	if dec.Outcome == engine.Suppressed {
		return
	}
	outcome := string(dec.Outcome)
	if dec.Outcome == "" {
		outcome = string(engine.Succeeded)
	}
	r.res.Got = append(r.res.Got, Fired{Rule: a.Rule, Kind: a.Kind, LockSeat: a.Params,
		Label: engine.Label{List: a.Label.List, Member: a.Label.Member}, Outcome: outcome, For: a.For, At: te.At.Sub(r.start)})
}

// undos notes the undos the clock reached, which succeeded.
func (r *run) undos(undos []state.Undo) {
	for _, u := range undos {
		a := engine.UnlockAction(u.Lock, u.End)
		r.res.Got = append(r.res.Got, Fired{Rule: a.Rule, Kind: a.Kind, LockSeat: a.Params,
			Outcome: string(engine.Succeeded), At: u.End.Sub(r.start)})
	}
}

// matchAll reports whether got is want, comparing For and At where the
// expectation gives them.
func matchAll(want, got []Fired) bool {
	return slices.EqualFunc(want, got, func(w, g Fired) bool { return w.matches(g) })
}

func (w Fired) matches(g Fired) bool {
	return w.Rule == g.Rule && w.Kind == g.Kind && w.LockSeat == g.LockSeat && w.Label == g.Label &&
		w.Outcome == g.Outcome && (!w.HasFor || w.For == g.For) && (!w.HasAt || w.At == g.At)
}

// shapedLike renders g with the fields w compares: For and At only when
// w gives them, so that lines that match read the same in a diff.
func (g Fired) shapedLike(w Fired) Fired {
	g.HasFor, g.HasAt = w.HasFor, w.HasAt
	return g
}

// String renders an action as one line, leaving out unset flags, the
// default outcome, and For and At unless they are compared.
func (f Fired) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", f.Rule, f.Kind)
	if f.Kind == engine.ActionLabel {
		fmt.Fprintf(&b, "{list: %s, member: %q}", f.Label.List, f.Label.Member)
	} else {
		fmt.Fprintf(&b, "{room_id: %q, index: %d", f.LockSeat.RoomID, f.LockSeat.Index)
		for _, fl := range []struct {
			name string
			f    engine.Flag
		}{{"forbid_taken", f.LockSeat.ForbidTaken}, {"forbid_video", f.LockSeat.ForbidVideo}, {"forbid_audio", f.LockSeat.ForbidAudio}} {
			if fl.f.IsSet() {
				fmt.Fprintf(&b, ", %s: %s", fl.name, fl.f)
			}
		}
		b.WriteString("}")
	}
	if f.HasFor {
		fmt.Fprintf(&b, " for %s", f.For)
	}
	if f.Outcome != string(engine.Succeeded) {
		fmt.Fprintf(&b, " -> %s", f.Outcome)
	}
	if f.HasAt {
		fmt.Fprintf(&b, " at +%s", f.At)
	}
	return b.String()
}

// Diff explains a failed case: the errors, then expected and actual
// actions line by line, "-" for expected but missing, "+" for fired but
// not expected.
func (r CaseResult) Diff() string {
	var b strings.Builder
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "    error: %s\n", e)
	}
	if matchAll(r.Want, r.Got) {
		return b.String()
	}
	got := make([]Fired, len(r.Got))
	for i, g := range r.Got {
		if i < len(r.Want) {
			g = g.shapedLike(r.Want[i])
		}
		got[i] = g
	}
	fmt.Fprintf(&b, "    actions (-want +got): want %s, got %s\n", plural(len(r.Want), "action"), plural(len(r.Got), "action"))
	for _, l := range diffLines(strs(r.Want), strs(got)) {
		fmt.Fprintf(&b, "      %s\n", l)
	}
	return b.String()
}

func strs(fs []Fired) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// diffLines returns a line diff of want and got from their longest
// common subsequence: "  " common, "- " only in want, "+ " only in got.
func diffLines(want, got []string) []string {
	lcs := make([][]int, len(want)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(got)+1)
	}
	for i := len(want) - 1; i >= 0; i-- {
		for j := len(got) - 1; j >= 0; j-- {
			if want[i] == got[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case i < len(want) && j < len(got) && want[i] == got[j]:
			out = append(out, "  "+want[i])
			i, j = i+1, j+1
		case i < len(want) && (j == len(got) || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "- "+want[i])
			i++
		default:
			out = append(out, "+ "+got[j])
			j++
		}
	}
	return out
}
