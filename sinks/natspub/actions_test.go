package natspub

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine"
)

func outcome(kind engine.OutcomeKind) engine.Outcome {
	return engine.Outcome{
		Time:      time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC),
		Rule:      "mute-seat-2-on-flagged-join",
		EventID:   "evt-0001",
		Action:    engine.ActionLockSeat,
		Params:    engine.LockSeat{RoomID: "room-test", Index: 2, ForbidAudio: engine.True},
		Outcome:   kind,
		Attempts:  6,
		ErrorCode: 70500,
		ErrorInfo: "internal error",
		LatencyMS: 3.5,
	}
}

func TestActionsPublishesPerOutcomeSubject(t *testing.T) {
	tests := []struct {
		name, prefix, want string
		kind               engine.OutcomeKind
	}{
		{"default prefix", "", "roomwarden.actions.succeeded", engine.Succeeded},
		{"custom prefix", "ops.actions", "ops.actions.dead_lettered", engine.DeadLettered},
		{"suppressed", "", "roomwarden.actions.suppressed", engine.Suppressed},
		{"no outcome", "", "roomwarden.actions.unknown", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nc := startNATS(t)
			sub, err := nc.SubscribeSync(">")
			if err != nil {
				t.Fatal(err)
			}
			a := newActions(t, ActionsConfig{Conn: nc, Prefix: tc.prefix})
			defer a.Close()
			want := outcome(tc.kind)
			if err := a.Record(want); err != nil {
				t.Fatalf("Record: %v", err)
			}
			msg, err := sub.NextMsg(10 * time.Second)
			if err != nil {
				t.Fatalf("no message: %v", err)
			}
			if msg.Subject != tc.want {
				t.Errorf("subject = %q, want %q", msg.Subject, tc.want)
			}
			var got engine.Outcome
			if err := json.Unmarshal(msg.Data, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

// TestActionsFailureIsCountedNotReturned closes the connection: Record
// must still return nil, and the failure must show in the metric.
func TestActionsFailureIsCountedNotReturned(t *testing.T) {
	nc := startNATS(t)
	reg := prometheus.NewRegistry()
	a := newActions(t, ActionsConfig{Conn: nc, Registerer: reg})
	nc.Close()
	if err := a.Record(outcome(engine.Failed)); err != nil {
		t.Errorf("Record = %v, want nil (best effort)", err)
	}
	a.Close() // drains the queue: the publish has been attempted
	if got := counterValue(t, reg, "roomwarden_actions_publish_errors_total", "publish"); got != 1 {
		t.Errorf("publish errors = %v, want 1", got)
	}
}

// TestActionsQueueFullDrops uses a closed Actions, which no longer drains
// its queue: with a queue of one, the second and third Records must be
// dropped and counted, without blocking.
func TestActionsQueueFullDrops(t *testing.T) {
	nc := startNATS(t)
	reg := prometheus.NewRegistry()
	a := newActions(t, ActionsConfig{Conn: nc, Registerer: reg, QueueSize: 1})
	a.Close()
	for range 3 {
		if err := a.Record(outcome(engine.Succeeded)); err != nil {
			t.Fatalf("Record = %v, want nil", err)
		}
	}
	if got := counterValue(t, reg, "roomwarden_actions_publish_errors_total", "queue_full"); got != 2 {
		t.Errorf("queue_full drops = %v, want 2 (queue of 1, 3 records)", got)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func newActions(t *testing.T, cfg ActionsConfig) *Actions {
	t.Helper()
	a, err := NewActions(cfg)
	if err != nil {
		t.Fatalf("NewActions: %v", err)
	}
	return a
}
