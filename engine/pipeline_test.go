package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

// heldSubmitter completes actions on seat 1 at once and holds the rest
// until release is closed.
type heldSubmitter struct{ release chan struct{} }

func (s heldSubmitter) Submit(_ context.Context, a Action, done func(Outcome, error)) error {
	go func() {
		if a.Params.Index != 1 {
			<-s.release
		}
		done(Outcome{Rule: a.Rule, EventID: a.EventID, Action: a.Kind, Params: a.Params, Outcome: Succeeded}, nil)
	}()
	return nil
}

// listRecorder keeps what was recorded.
type listRecorder struct {
	mu  sync.Mutex
	got []Outcome
}

func (r *listRecorder) Record(o Outcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, o)
	return nil
}

func (r *listRecorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// waitAny waits up to 30 s for an outcome to be recorded, failing the
// test with failure if none is.
func (r *listRecorder) waitAny(t *testing.T, failure string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for r.len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal(failure)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPipelineRecordsOutcomesAsTheyHappen: an event's first outcome is on
// file while its other action still runs, and the verdict waits for both.
func TestPipelineRecordsOutcomesAsTheyHappen(t *testing.T) {
	set := twoSeatRules(t)
	sub, rec := heldSubmitter{release: make(chan struct{})}, &listRecorder{}
	p := newTestPipeline(t, PipelineConfig{Rules: benchRules{set}, Executor: sub, Recorder: rec})
	r := p.HandleMessage(t.Context(), Delivery{Data: []byte(`{"type":"member.enter","room_id":"r"}`), StreamSeq: 1})
	if r.Wait == nil {
		t.Fatalf("result %+v, want a deferred verdict", r)
	}
	verdict := make(chan Result, 1)
	go func() { verdict <- r.Wait(context.Background()) }()
	rec.waitAny(t, "the finished action's outcome was not recorded while the other ran")
	select {
	case v := <-verdict:
		t.Fatalf("verdict %s before every action finished", v.Verdict)
	default:
	}
	close(sub.release)
	if v := <-verdict; v.Verdict != Ack || rec.len() != 2 {
		t.Errorf("verdict %s with %d outcomes recorded, want ack with 2", v.Verdict, rec.len())
	}
}

// blockingSubmitter completes actions on seat 1 at once; Submit of any
// other blocks until release is closed, as Submit does while the
// executor's queue is full.
type blockingSubmitter struct{ release chan struct{} }

func (s blockingSubmitter) Submit(ctx context.Context, a Action, done func(Outcome, error)) error {
	if a.Params.Index != 1 {
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	go done(Outcome{Rule: a.Rule, EventID: a.EventID, Action: a.Kind, Params: a.Params, Outcome: Succeeded}, nil)
	return nil
}

// TestPipelineRecordsWhileSubmitWaits: while an event's second action
// waits in Submit for room in a full queue, its first, finished,
// action's outcome is already on file ([1c/6] probe 6: with a full
// queue, a fan-out's lines came only once all of it was queued).
func TestPipelineRecordsWhileSubmitWaits(t *testing.T) {
	set := twoSeatRules(t)
	sub, rec := blockingSubmitter{release: make(chan struct{})}, &listRecorder{}
	p := newTestPipeline(t, PipelineConfig{Rules: benchRules{set}, Executor: sub, Recorder: rec})
	handled := make(chan Result, 1)
	go func() {
		handled <- p.HandleMessage(t.Context(), Delivery{Data: []byte(`{"type":"member.enter","room_id":"r"}`), StreamSeq: 1})
	}()
	rec.waitAny(t, "the first action's outcome was not recorded while the second waited in Submit")
	select {
	case r := <-handled:
		t.Fatalf("HandleMessage returned %+v while Submit still waited", r)
	default:
	}
	close(sub.release)
	r := <-handled
	if r.Wait == nil {
		t.Fatalf("result %+v, want a deferred verdict", r)
	}
	if v := r.Wait(t.Context()); v.Verdict != Ack || rec.len() != 2 {
		t.Errorf("verdict %s with %d outcomes recorded, want ack with 2", v.Verdict, rec.len())
	}
}

// twoSeatRules is one rule locking seats 1 and 2 of any room entered.
func twoSeatRules(t *testing.T) *rules.Set {
	t.Helper()
	set, err := rules.Compile(rules.Source{Path: "two.yaml", Data: []byte(`rules:
  - name: two-seats
    on: [member.enter]
    when: "true"
    actions:
      - lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}
      - lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}
`)})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// recordedSubmitter succeeds every action and, right after its done
// returns, notes whether the store holds the action's lock: the
// executor starts the seat's next call only then (its seat turns), so
// an unlock of an older lock must see this one.
type recordedSubmitter struct {
	store state.Seats
	held  chan bool
}

func (s recordedSubmitter) Submit(ctx context.Context, a Action, done func(Outcome, error)) error {
	go func() {
		done(Outcome{Time: time.Now(), Rule: a.Rule, EventID: a.EventID, Action: a.Kind, Params: a.Params, Outcome: Succeeded}, nil)
		_, ok, _ := s.store.Held(ctx, state.SeatFlag{RoomID: a.Params.RoomID, Index: a.Params.Index, Flag: "audio"})
		s.held <- ok
	}()
	return nil
}

// TestPipelineRecordsLockBeforeDoneReturns: a successful lock_seat's
// lock record is written by the time its done func returns.
func TestPipelineRecordsLockBeforeDoneReturns(t *testing.T) {
	store := state.NewMemory(0)
	sub := recordedSubmitter{store: store, held: make(chan bool, 2)}
	p := newTestPipeline(t, PipelineConfig{Rules: benchRules{twoSeatRules(t)}, Executor: sub, Recorder: &listRecorder{}, Store: store})
	r := p.HandleMessage(t.Context(), Delivery{Data: []byte(`{"type":"member.enter","room_id":"r"}`), StreamSeq: 1})
	for range 2 {
		if !<-sub.held {
			t.Error("a succeeded lock was not recorded when its done returned")
		}
	}
	if r.Wait != nil {
		if v := r.Wait(t.Context()); v.Verdict != Ack {
			t.Errorf("verdict %s, want ack", v.Verdict)
		}
	}
}
