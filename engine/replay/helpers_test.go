package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/internal/natstest"
	"github.com/roomwarden/roomwarden/rules"
)

const (
	testStream  = "ROOM_EVENTS"
	testSubject = "rooms.events.>"
)

// t0 is the event time the tests' histories start at: long ago, so
// that the events' own times are nothing like the time they are
// published at.
var t0 = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

// newStream starts a NATS server with the daemon's stream and returns a
// JetStream context on it.
func newStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	js := natstest.JetStream(t, natstest.Connect(t, natstest.RunServer(t)))
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: testStream,
		Subjects: []string{testSubject}}); err != nil {
		t.Fatal(err)
	}
	return js
}

// event is a canonical event to publish; zero fields are left out.
type event struct {
	ID     string         `json:"id,omitempty"`
	Type   string         `json:"type"`
	Time   *time.Time     `json:"time,omitempty"`
	RoomID string         `json:"room_id,omitempty"`
	User   *user          `json:"user,omitempty"`
	Seat   *seat          `json:"seat,omitempty"`
	Seats  []seat         `json:"seats,omitempty"`
	Attrs  map[string]any `json:"attrs,omitempty"`
}

type user struct {
	ID      string   `json:"id"`
	Flagged bool     `json:"flagged,omitempty"`
	Score   float64  `json:"score,omitempty"`
	Labels  []string `json:"labels,omitempty"`
}

type seat struct {
	Index         int  `json:"index"`
	AudioDisabled bool `json:"audio_disabled"`
}

// at is t0 plus d, for event.Time.
func at(d time.Duration) *time.Time {
	t := t0.Add(d)
	return &t
}

// publish stores evs in the stream, in order.
func publish(t testing.TB, js jetstream.JetStream, evs ...event) {
	t.Helper()
	for _, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		publishRaw(t, js, "rooms.events."+ev.Type, data)
	}
}

func publishRaw(t testing.TB, js jetstream.JetStream, subject string, data []byte) {
	t.Helper()
	if _, err := js.Publish(context.Background(), subject, data); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// rule is a rules file entry: rule name, on events of type on, locks
// seat index's audio when `when` holds.
func rule(name, on, when string, index int) string {
	return fmt.Sprintf("  - name: %s\n    on: [%s]\n    when: %s\n    actions:\n"+
		"      - lock_seat: {room_id: event.room_id, index: %d, forbid_audio: true}\n", name, on, when, index)
}

// compile compiles a rules file.
func compile(t testing.TB, yaml string) *rules.Set {
	t.Helper()
	s, err := rules.Compile(rules.Source{Path: "rules.yaml", Data: []byte(yaml)})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return s
}

// replayAll replays the whole stream with cfg's sets.
func replayAll(t testing.TB, js jetstream.JetStream, cfg Config) *Report {
	t.Helper()
	cfg.Source = Source{JS: js, Stream: testStream, Subjects: []string{testSubject}}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

// ruleReport returns the report's row for rule name.
func ruleReport(t testing.TB, rep *Report, name string) RuleReport {
	t.Helper()
	for _, r := range rep.Rules {
		if r.Rule == name {
			return r
		}
	}
	t.Fatalf("no rule %q in the report", name)
	return RuleReport{}
}
