package engine

import (
	"context"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

const explainRules = `
windows:
  reports:
    on: [user.flagged]
    key: event.room_id
    for: 1m
rules:
  - name: three-reports
    on: [user.flagged]
    when: window("reports") >= 3
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
    cooldown: {key: event.room_id, for: 10m}
  - name: budgeted
    on: [user.flagged]
    when: event.user.score > 0.5
    actions: [{lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}}]
    budget: {max: 1, per: 1m}
  - name: fails
    on: [user.flagged]
    when: event.attrs.n > 1
    actions: [{lock_seat: {room_id: event.room_id, index: 3, forbid_audio: true}}]
`

// TestExplainVerdicts: explain says what the daemon would decide, from
// the state as it stands, and changes none of it.
func TestExplainVerdicts(t *testing.T) {
	set, err := rules.Compile(rules.Source{Path: "x.yaml", Data: []byte(explainRules)})
	if err != nil {
		t.Fatal(err)
	}
	store := state.NewMemory(0)
	ctx := context.Background()
	ev := func(id string, score float64) *rules.Event {
		return &rules.Event{ID: id, Type: "user.flagged", RoomID: "r", User: rules.User{Score: score}, Seat: rules.Seat{Index: 1}}
	}
	verdicts := func(ex Explanation) map[string]string {
		out := map[string]string{}
		for _, r := range ex.Rules {
			out[r.Rule] = r.Verdict
		}
		return out
	}
	// Two reports fed: the third would make three.
	d := NewDecider(DeciderConfig{Store: store})
	for i, id := range []string{"e1", "e2"} {
		if _, err := d.Decide(ctx, set, ev(id, 0), id, t0.Add(time.Duration(i)*time.Second), nil); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := Explain(ctx, store, set, ev("e3", 0.9), t0.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"three-reports": VerdictAct, "budgeted": VerdictAct, "fails": VerdictError}
	if got := verdicts(ex); !equalMaps(got, want) {
		t.Errorf("verdicts %v, want %v", got, want)
	}
	if w := ex.Rules[0].Windows; len(w) != 1 || w[0].Count != 3 {
		t.Errorf("window reads %+v, want reports at 3 (two fed, this one as if counted)", w)
	}
	if got := ex.Rules[0].Values[`window("reports") >= 3`]; got != true {
		t.Errorf("value of window(\"reports\") >= 3 = %v, want true", got)
	}
	// Explaining changed nothing: the window still holds two.
	if n, _ := store.Count(ctx, "reports", "r", time.Minute, false, t0.Add(2*time.Second)); n != 2 {
		t.Errorf("explain fed the window: count %d, want 2", n)
	}
	// Now decide it for real, and once more: cooldown and budget stop them.
	if _, err := d.Decide(ctx, set, ev("e3", 0.9), "e3", t0.Add(2*time.Second), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Decide(ctx, set, ev("e4", 0.9), "e4", t0.Add(3*time.Second), nil); err != nil {
		t.Fatal(err)
	}
	ex, err = Explain(ctx, store, set, ev("e5", 0.9), t0.Add(4*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"three-reports": VerdictSuppressed, "budgeted": VerdictTripped, "fails": VerdictError}
	if got := verdicts(ex); !equalMaps(got, want) {
		t.Errorf("verdicts %v, want %v", got, want)
	}
	// A moderator holds audio on seat 1: overridden.
	store.Locked(ctx, state.Lock{SeatFlag: state.SeatFlag{RoomID: "r", Index: 2, Flag: FlagAudio}, At: t0})
	store.Override(ctx, state.SeatFlag{RoomID: "r", Index: 2, Flag: FlagAudio}, t0, time.Hour)
	store.Reset(ctx, BudgetKey(set.Rule("budgeted")))
	ex, _ = Explain(ctx, store, set, ev("e6", 0.9), t0.Add(5*time.Second))
	if got := verdicts(ex)["budgeted"]; got != VerdictOverridden {
		t.Errorf("verdict with a moderator's override = %s, want overridden", got)
	}
	if ex, _ := Explain(ctx, store, set, &rules.Event{ID: "x", Type: "member.leave", RoomID: "r"}, t0); len(ex.Rules) != 0 {
		t.Errorf("an event no rule listens for explained %d rules", len(ex.Rules))
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
