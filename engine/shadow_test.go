package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/internal/promtest"
	"github.com/roomwarden/roomwarden/rules"
)

// sentSubmitter succeeds every action at once and keeps what was sent.
type sentSubmitter struct {
	mu   sync.Mutex
	sent []Action
}

func (s *sentSubmitter) Submit(_ context.Context, a Action, done func(Outcome, error)) error {
	s.mu.Lock()
	s.sent = append(s.sent, a)
	s.mu.Unlock()
	done(Outcome{Rule: a.Rule, EventID: a.EventID, Action: a.Kind, Params: a.Params, Outcome: Succeeded}, nil)
	return nil
}

const shadowLive = `rules:
  - name: flagged-lock
    on: [user.flagged]
    when: event.user.flagged
    actions:
      - lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}
    cooldown: {key: event.room_id, for: 1h}
`

// The candidate has the live rule's name and cooldown key (so shared
// cooldowns would suppress one with the other), a window of its own and
// a label action on a live KV list.
const shadowCandidate = `lists:
  watched: {kv: watched_users}
windows:
  shadow_flags: {on: [user.flagged], key: event.room_id, for: 1h}
rules:
  - name: flagged-lock
    on: [user.flagged]
    when: event.user.flagged && window("shadow_flags") >= 1
    actions:
      - lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}
      - label: {list: watched, member: event.user.id}
    cooldown: {key: event.room_id, for: 1h}
`

// TestShadowRulesNeverActOrTouchLiveState runs a live rule and a shadow
// candidate of the same name on the same events: the live rule's action
// is sent and the candidate's are logged as shadow and counted, never
// sent; the candidate's cooldown, window and label stay in the shadow
// store, so the live rule decides exactly as it would alone.
func TestShadowRulesNeverActOrTouchLiveState(t *testing.T) {
	live, shadow := state.NewMemory(0), state.NewMemory(0)
	sub, rec, reg := &sentSubmitter{}, &listRecorder{}, prometheus.NewRegistry()
	now := time.Unix(1_800_000_000, 0)
	p := newTestPipeline(t, PipelineConfig{
		Rules: benchRules{compileSet(t, shadowLive)}, Shadow: benchRules{compileSet(t, shadowCandidate)},
		Store: live, ShadowStore: shadow, Executor: sub, Recorder: rec, Registerer: reg,
		Now: func() time.Time { return now },
	})
	ctx := context.Background()
	for i, id := range []string{"ev-1", "ev-2"} {
		body := `{"id":"` + id + `","type":"user.flagged","room_id":"room-9","user":{"id":"u-` + id + `","flagged":true}}`
		if r := settled(ctx, p.HandleMessage(ctx, Delivery{Data: []byte(body), StreamSeq: uint64(i + 1)})); r.Verdict != Ack {
			t.Fatalf("%s: verdict %s (%s), want ack", id, r.Verdict, r.Reason)
		}
	}

	// ev-1: the live lock is sent; the candidate's lock and label are
	// shadow. ev-2: both are in their cooldowns.
	if len(sub.sent) != 1 || sub.sent[0].EventID != "ev-1" || sub.sent[0].Kind != ActionLockSeat {
		t.Errorf("sent %+v, want the live rule's lock_seat for ev-1 alone", sub.sent)
	}
	var shadows []Outcome
	for _, o := range rec.got {
		if o.Outcome == Shadow {
			shadows = append(shadows, o)
		}
	}
	if len(shadows) != 2 || shadows[0].EventID != "ev-1" || shadows[0].Action != ActionLockSeat ||
		shadows[1].Action != ActionLabel || shadows[1].Label.Member != "u-ev-1" {
		t.Errorf("shadow outcomes %+v, want ev-1's lock_seat and label", shadows)
	}
	if got := ruleCounter(t, reg, "roomwarden_shadow_actions_total", "flagged-lock"); got != 2 {
		t.Errorf("roomwarden_shadow_actions_total{rule=flagged-lock} = %v, want 2", got)
	}

	// The candidate's state is its own.
	if n, _ := live.Count(ctx, "shadow_flags", "room-9", time.Hour, false, now); n != 0 {
		t.Errorf("live store counts %d events in the shadow window, want 0", n)
	}
	if n, _ := shadow.Count(ctx, "shadow_flags", "room-9", time.Hour, false, now); n != 2 {
		t.Errorf("shadow store counts %d events in its window, want 2", n)
	}
	if m, _ := live.Members(ctx, "watched_users", now); len(m) != 0 {
		t.Errorf("live list watched_users = %v after a shadow label, want empty", m)
	}
	if _, held, _ := shadow.Held(ctx, state.SeatFlag{RoomID: "room-9", Index: 2, Flag: "forbid_audio"}); held {
		t.Error("the shadow store holds a lock: a shadow action was treated as run")
	}
}

// TestShadowRulesReadLiveLists: a candidate reads the live KV lists, not
// an empty copy of its own.
func TestShadowRulesReadLiveLists(t *testing.T) {
	live := state.NewMemory(0)
	now := time.Unix(1_800_000_000, 0)
	ctx := context.Background()
	if err := live.AddMember(ctx, "watched_users", "u-7", now, 0); err != nil {
		t.Fatal(err)
	}
	rec := &listRecorder{}
	p := newTestPipeline(t, PipelineConfig{
		Rules: benchRules{compileSet(t, "rules: []\n")}, Shadow: benchRules{compileSet(t, `lists:
  watched: {kv: watched_users}
rules:
  - name: watched-speaker
    on: [seat.taken]
    when: event.user.id in lists.watched
    actions:
      - lock_seat: {room_id: event.room_id, index: event.seat.index, forbid_audio: true}
`)},
		Store: live, ShadowStore: state.NewMemory(0), Executor: &sentSubmitter{}, Recorder: rec,
		Now: func() time.Time { return now },
	})
	body := `{"id":"ev-w","type":"seat.taken","room_id":"room-1","user":{"id":"u-7"},"seat":{"index":3}}`
	if r := settled(ctx, p.HandleMessage(ctx, Delivery{Data: []byte(body), StreamSeq: 1})); r.Verdict != Ack {
		t.Fatalf("verdict %s (%s), want ack", r.Verdict, r.Reason)
	}
	if len(rec.got) != 1 || rec.got[0].Outcome != Shadow || rec.got[0].Params.Index != 3 {
		t.Errorf("outcomes %+v, want one shadow lock_seat of seat 3", rec.got)
	}
}

func compileSet(t *testing.T, yaml string) *rules.Set {
	t.Helper()
	set, err := rules.Compile(rules.Source{Path: "rules.yaml", Data: []byte(yaml)})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// ruleCounter reads the counter name{rule} from reg (0 if absent).
func ruleCounter(t *testing.T, reg *prometheus.Registry, name, rule string) float64 {
	t.Helper()
	v, _ := promtest.Value(t, reg, name, "rule", rule)
	return v
}
