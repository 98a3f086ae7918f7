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

	"github.com/roomwarden/roomwarden/engine"
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

// Fired is one action that fired: decided and not suppressed.
type Fired struct {
	Rule     string
	LockSeat engine.LockSeat
}

// RunCase runs one case against s through the daemon's evaluation path,
// the engine's Decider, with fresh cooldowns and each event evaluated at
// its simulated time. Suppressed actions do not fire; rule runtime
// errors fail the case.
func RunCase(s *rules.Set, tc rules.TestCase) CaseResult {
	res := CaseResult{Case: tc, Want: []Fired{}, Got: []Fired{}}
	for _, f := range tc.Expect {
		if s.Rule(f.Rule) == nil {
			res.Errors = append(res.Errors, fmt.Sprintf("expect names rule %q, which is not loaded", f.Rule))
		}
		res.Want = append(res.Want, Fired{Rule: f.Rule, LockSeat: engine.LockSeatOf(f.LockSeat)})
	}
	d := engine.NewDecider(engine.DeciderConfig{Store: state.NewMemory(0)})
	var decisions []engine.Decision
	for i, te := range tc.Events {
		decisions, _ = d.Decide(context.Background(), s, &te.Event, "case-event-"+strconv.Itoa(i), te.At, decisions[:0])
		for _, m := range d.Matched() {
			if m.Err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("event %s: %v", te.Event.ID, m.Err))
			}
		}
		for _, dec := range decisions {
			if dec.Outcome == "" {
				res.Got = append(res.Got, Fired{Rule: dec.Action.Rule, LockSeat: dec.Action.Params})
			}
		}
	}
	res.Pass = len(res.Errors) == 0 && slices.Equal(res.Got, res.Want)
	return res
}

// String renders an action as one line, leaving out unset flags.
func (f Fired) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: lock_seat{room_id: %q, index: %d", f.Rule, f.LockSeat.RoomID, f.LockSeat.Index)
	for _, fl := range []struct {
		name string
		f    engine.Flag
	}{{"forbid_taken", f.LockSeat.ForbidTaken}, {"forbid_video", f.LockSeat.ForbidVideo}, {"forbid_audio", f.LockSeat.ForbidAudio}} {
		if fl.f.IsSet() {
			fmt.Fprintf(&b, ", %s: %s", fl.name, fl.f)
		}
	}
	b.WriteString("}")
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
	if slices.Equal(r.Got, r.Want) {
		return b.String()
	}
	fmt.Fprintf(&b, "    actions (-want +got): want %s, got %s\n", plural(len(r.Want), "action"), plural(len(r.Got), "action"))
	for _, l := range diffLines(strs(r.Want), strs(r.Got)) {
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
