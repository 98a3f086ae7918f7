package intake

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

// The pipeline's ack contract, checked without NATS: a real
// engine.Pipeline handles fake JetStream messages on the intake's own
// worker pool, and each message must end with exactly the
// acknowledgement the contract names, with InProgress only before it.

// fakeMsg is a jetstream.Msg that records how it was acknowledged.
type fakeMsg struct {
	jetstream.Msg // unused methods panic
	data          []byte
	seq           uint64

	mu    sync.Mutex
	calls []string // "ack", "nak", "nak 5s", "term: reason", "in progress"
	final chan struct{}
}

func newFakeMsg(seq uint64, data string) *fakeMsg {
	return &fakeMsg{data: []byte(data), seq: seq, final: make(chan struct{})}
}

func (m *fakeMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: m.seq}, NumDelivered: 1,
		Timestamp: time.Now()}, nil
}
func (m *fakeMsg) Data() []byte         { return m.data }
func (m *fakeMsg) Subject() string      { return "rooms.events.test" }
func (m *fakeMsg) Headers() nats.Header { return nats.Header{} }
func (m *fakeMsg) Ack() error           { return m.settle("ack") }
func (m *fakeMsg) Nak() error           { return m.settle("nak") }
func (m *fakeMsg) Term() error          { return m.settle("term") }
func (m *fakeMsg) InProgress() error    { m.record("in progress"); return nil }
func (m *fakeMsg) NakWithDelay(d time.Duration) error {
	return m.settle("nak " + d.String())
}
func (m *fakeMsg) TermWithReason(reason string) error { return m.settle("term: " + reason) }

func (m *fakeMsg) record(call string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, call)
}

func (m *fakeMsg) settle(call string) error {
	m.record(call)
	close(m.final) // a second final call panics: the contract is one
	return nil
}

func (m *fakeMsg) history() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

// contractSubmitter answers each action as told: an outcome, an error
// instead of a terminal outcome, a refused submit, or a slow outcome.
type contractSubmitter struct {
	refuse  error         // Submit returns it
	fail    error         // done gets it instead of an outcome
	release chan struct{} // outcomes wait for it when set
}

func (s *contractSubmitter) Submit(ctx context.Context, a engine.Action, done func(engine.Outcome, error)) error {
	if s.refuse != nil {
		return s.refuse
	}
	go func() {
		if s.release != nil {
			<-s.release
		}
		o := engine.Outcome{Rule: a.Rule, EventID: a.EventID, Action: a.Kind, Params: a.Params, Outcome: engine.Succeeded}
		done(o, s.fail)
	}()
	return nil
}

// contractRecorder records outcomes, or fails.
type contractRecorder struct {
	fail error
	mu   sync.Mutex
	got  []engine.Outcome
}

func (r *contractRecorder) Record(o engine.Outcome) error {
	if r.fail != nil {
		return r.fail
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, o)
	return nil
}

type contractDLQ struct{ fail error }

func (d contractDLQ) DeadLetterEvent(context.Context, engine.Malformed) error { return d.fail }

type staticRules struct{ set *rules.Set }

func (r staticRules) Current() *rules.Set { return r.set }

const contractRules = `rules:
  - name: lock
    on: [member.enter]
    when: event.user.flagged
    actions:
      - lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}
`

const (
	flaggedJoin = `{"type":"member.enter","room_id":"r1","user":{"id":"u1","flagged":true}}`
	cleanJoin   = `{"type":"member.enter","room_id":"r1","user":{"id":"u2"}}`
	notJSON     = `{"type":`
	nakDelay    = 7 * time.Second
)

func TestPipelineAckContract(t *testing.T) {
	set, err := rules.Compile(rules.Source{Path: "contract.yaml", Data: []byte(contractRules)})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	tests := []struct {
		name   string
		body   string
		sub    *contractSubmitter
		rec    *contractRecorder
		dlq    contractDLQ
		want   string // the one final call
		wantOK bool   // an outcome was recorded before it
	}{
		{"no rule matches: ack", cleanJoin, &contractSubmitter{}, &contractRecorder{}, contractDLQ{}, "ack", false},
		{"an action succeeds and is recorded: ack", flaggedJoin, &contractSubmitter{}, &contractRecorder{}, contractDLQ{}, "ack", true},
		{"the outcome cannot be recorded: nak with delay", flaggedJoin, &contractSubmitter{}, &contractRecorder{fail: boom}, contractDLQ{},
			"nak " + nakDelay.String(), false},
		{"the action reaches no terminal outcome: nak with delay", flaggedJoin, &contractSubmitter{fail: boom}, &contractRecorder{}, contractDLQ{},
			"nak " + nakDelay.String(), false},
		{"the executor refuses the action: nak with delay", flaggedJoin, &contractSubmitter{refuse: boom}, &contractRecorder{}, contractDLQ{},
			"nak " + nakDelay.String(), false},
		{"malformed and dead-lettered: term", notJSON, &contractSubmitter{}, &contractRecorder{}, contractDLQ{},
			"term: malformed event: ", false},
		{"malformed and the dead letter fails: nak with delay", notJSON, &contractSubmitter{}, &contractRecorder{}, contractDLQ{fail: boom},
			"nak " + nakDelay.String(), false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, work := startContractIntake(t, set, tc.sub, tc.rec, tc.dlq, 2*time.Second)
			m := newFakeMsg(uint64(i+1), tc.body)
			work <- m
			waitFinal(t, m)
			calls := m.history()
			final := calls[len(calls)-1]
			if final != tc.want && !(strings.HasSuffix(tc.want, ": ") && strings.HasPrefix(final, tc.want)) {
				t.Errorf("final call %q, want %q (calls %q)", final, tc.want, calls)
			}
			if got := len(tc.rec.got) > 0; got != tc.wantOK {
				t.Errorf("outcome recorded before the final call: %v, want %v", got, tc.wantOK)
			}
		})
	}
}

// TestPipelineAckContractKeepAlive: an event whose action takes longer
// than half the ack wait is kept alive with InProgress, and acked once
// the action's outcome is recorded; nothing is sent after the ack.
func TestPipelineAckContractKeepAlive(t *testing.T) {
	set, err := rules.Compile(rules.Source{Path: "contract.yaml", Data: []byte(contractRules)})
	if err != nil {
		t.Fatal(err)
	}
	const ackWait = 400 * time.Millisecond
	sub := &contractSubmitter{release: make(chan struct{})}
	rec := &contractRecorder{}
	_, work := startContractIntake(t, set, sub, rec, contractDLQ{}, ackWait)
	m := newFakeMsg(1, flaggedJoin)
	work <- m
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Contains(m.history(), "in progress") {
		if time.Now().After(deadline) {
			t.Fatalf("no InProgress while the action ran; calls %q", m.history())
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(sub.release)
	waitFinal(t, m)
	time.Sleep(ackWait) // a keep-alive tick after the ack would show now
	calls := m.history()
	if calls[len(calls)-1] != "ack" || strings.Count(strings.Join(calls, ","), "ack") != 1 {
		t.Errorf("calls %q, want InProgress then one final ack", calls)
	}
	if len(rec.got) != 1 {
		t.Errorf("recorded %d outcomes, want 1", len(rec.got))
	}
}

// TestPipelineAckContractShutdown: when the handlers' context ends while
// an action is still running, the event is given back (Nak without
// delay, for prompt redelivery) and nothing is recorded.
func TestPipelineAckContractShutdown(t *testing.T) {
	set, err := rules.Compile(rules.Source{Path: "contract.yaml", Data: []byte(contractRules)})
	if err != nil {
		t.Fatal(err)
	}
	sub := &contractSubmitter{release: make(chan struct{})}
	rec := &contractRecorder{}
	ctx, cancel := context.WithCancel(context.Background())
	_, work := startContractIntakeCtx(t, ctx, set, sub, rec, contractDLQ{}, 2*time.Second)
	m := newFakeMsg(1, flaggedJoin)
	work <- m
	time.Sleep(50 * time.Millisecond) // let the handler defer its verdict
	cancel()
	waitFinal(t, m)
	close(sub.release)
	if calls := m.history(); calls[len(calls)-1] != "nak" {
		t.Errorf("calls %q, want a final nak (given back)", calls)
	}
	if len(rec.got) != 0 {
		t.Errorf("recorded %d outcomes at shutdown, want 0", len(rec.got))
	}
}

func startContractIntake(t *testing.T, set *rules.Set, sub *contractSubmitter, rec *contractRecorder,
	dlq contractDLQ, ackWait time.Duration) (*Intake, chan<- jetstream.Msg) {
	return startContractIntakeCtx(t, t.Context(), set, sub, rec, dlq, ackWait)
}

// startContractIntakeCtx runs an intake's worker pool (no NATS) whose
// handler is a real pipeline; handlers get ctx.
func startContractIntakeCtx(t *testing.T, ctx context.Context, set *rules.Set, sub *contractSubmitter, rec *contractRecorder,
	dlq contractDLQ, ackWait time.Duration) (*Intake, chan<- jetstream.Msg) {
	t.Helper()
	p, err := engine.NewPipeline(engine.PipelineConfig{Rules: staticRules{set}, Store: state.NewMemory(0),
		Executor: sub, Recorder: rec, DeadLetters: dlq, NakDelay: nakDelay})
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(Config{JetStream: noJetStream{}, Handler: p, Stream: "S", Subjects: []string{"s.>"}, Durable: "d",
		AckWait: ackWait, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	in.acks = startAckBatcher(in.sendAck)
	work := make(chan jetstream.Msg, 1)
	pool := in.startPool(ctx, work)
	t.Cleanup(func() {
		<-pool.stop()
		in.acks.stop()
	})
	return in, work
}

// noJetStream stands in for a JetStream context the pool never uses.
type noJetStream struct{ jetstream.JetStream }

func waitFinal(t *testing.T, m *fakeMsg) {
	t.Helper()
	select {
	case <-m.final:
	case <-time.After(30 * time.Second):
		t.Fatalf("message never acknowledged; calls %q", m.history())
	}
}
