package natspub

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine"
)

// dlq creates the dead-letter stream and returns a DeadLetter on it.
func dlq(t *testing.T) (*DeadLetter, jetstream.Stream) {
	t.Helper()
	js := newJetStream(t, startNATS(t))
	ctx := testContext(t)
	if err := EnsureStream(ctx, js, "ROOMWARDEN_DLQ", DefaultDLQSubject, 1); err != nil {
		t.Fatalf("EnsureStream: %v", err)
	}
	stream, err := js.Stream(ctx, "ROOMWARDEN_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	return newDeadLetter(t, js, ""), stream
}

func storedMsg(t *testing.T, stream jetstream.Stream, seq uint64) *jetstream.RawStreamMsg {
	t.Helper()
	msg, err := stream.GetMsg(testContext(t), seq)
	if err != nil {
		t.Fatalf("get message %d: %v", seq, err)
	}
	return msg
}

func streamMsgs(t *testing.T, stream jetstream.Stream) uint64 {
	t.Helper()
	info, err := stream.Info(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestDeadLetterAction(t *testing.T) {
	d, stream := dlq(t)
	o := outcome(engine.DeadLettered)
	o.ErrorInfo = "internal error\r\nInjected: header"
	for range 2 { // a retried publish is deduplicated
		if err := d.DeadLetter(testContext(t), o); err != nil {
			t.Fatalf("DeadLetter: %v", err)
		}
	}
	if n := streamMsgs(t, stream); n != 1 {
		t.Errorf("stream holds %d messages, want 1 (deduplicated)", n)
	}
	msg := storedMsg(t, stream, 1)
	var got engine.Outcome
	if err := json.Unmarshal(msg.Data, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, o) {
		t.Errorf("body: got %+v, want %+v", got, o)
	}
	wantHeaders := map[string]string{
		HeaderKind:   "action",
		HeaderReason: "dead_lettered after 6 attempts: error 70500: internal error  Injected: header",
	}
	for k, want := range wantHeaders {
		if got := msg.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if msg.Subject != DefaultDLQSubject {
		t.Errorf("subject = %q, want %q", msg.Subject, DefaultDLQSubject)
	}
	if id := msg.Header.Get(jetstream.MsgIDHeader); !strings.HasPrefix(id, "action-") {
		t.Errorf("Nats-Msg-Id = %q, want action-<digest>", id)
	}
}

func TestDeadLetterActionIDsDifferByContent(t *testing.T) {
	d, stream := dlq(t)
	a, b := outcome(engine.DeadLettered), outcome(engine.DeadLettered)
	b.Params.Index = 3
	for _, o := range []engine.Outcome{a, b} {
		if err := d.DeadLetter(testContext(t), o); err != nil {
			t.Fatal(err)
		}
	}
	if n := streamMsgs(t, stream); n != 2 {
		t.Errorf("stream holds %d messages, want 2 (different params)", n)
	}
}

func TestDeadLetterEvent(t *testing.T) {
	big := bytes.Repeat([]byte("x"), MaxDeadLetterEventBytes+100)
	tests := []struct {
		name          string
		m             engine.Malformed
		wantBody      []byte
		wantTruncated string
	}{
		{
			name:     "small payload kept whole",
			m:        engine.Malformed{Subject: "rooms.events.seat.taken", StreamSeq: 42, Reason: `seat.index: want integer, got string "two"`, Data: []byte(`{"type":"seat.taken","seat":{"index":"two"}}`)},
			wantBody: []byte(`{"type":"seat.taken","seat":{"index":"two"}}`),
		},
		{
			name:          "oversized payload truncated",
			m:             engine.Malformed{Subject: "rooms.events.x", StreamSeq: 43, Reason: "invalid JSON at byte 0: want a value, got 'x'", Data: big},
			wantBody:      big[:MaxDeadLetterEventBytes],
			wantTruncated: "true",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, stream := dlq(t)
			for range 2 { // redelivered malformed event: stored once
				if err := d.DeadLetterEvent(testContext(t), tc.m); err != nil {
					t.Fatalf("DeadLetterEvent: %v", err)
				}
			}
			if n := streamMsgs(t, stream); n != 1 {
				t.Errorf("stream holds %d messages, want 1 (deduplicated)", n)
			}
			msg := storedMsg(t, stream, 1)
			if !bytes.Equal(msg.Data, tc.wantBody) {
				t.Errorf("body is %d bytes, want %d", len(msg.Data), len(tc.wantBody))
			}
			want := map[string]string{
				HeaderKind:      "event",
				HeaderReason:    tc.m.Reason,
				HeaderSubject:   tc.m.Subject,
				HeaderStreamSeq: strconv.FormatUint(tc.m.StreamSeq, 10),
				HeaderTruncated: tc.wantTruncated,
			}
			for k, v := range want {
				if got := msg.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestDeadLetterWithoutStreamFails: with no stream on the subject there is
// no PubAck, so the dead letter is not durable and the caller must know.
func TestDeadLetterWithoutStreamFails(t *testing.T) {
	js := newJetStream(t, startNATS(t))
	d := newDeadLetter(t, js, "nowhere.dlq")
	err := d.DeadLetterEvent(testContext(t), engine.Malformed{Subject: "s", StreamSeq: 1, Reason: "r", Data: []byte("x")})
	if err == nil {
		t.Fatal("DeadLetterEvent without a stream succeeded, want error")
	}
}

func TestEnsureStream(t *testing.T) {
	js := newJetStream(t, startNATS(t))
	ctx := testContext(t)
	for range 2 { // idempotent
		if err := EnsureStream(ctx, js, "ROOMWARDEN_DLQ", "roomwarden.dlq", 1); err != nil {
			t.Fatalf("EnsureStream: %v", err)
		}
	}
	s, err := js.Stream(ctx, "ROOMWARDEN_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if cfg.Storage != jetstream.FileStorage || cfg.MaxAge != DLQMaxAge || !reflect.DeepEqual(cfg.Subjects, []string{"roomwarden.dlq"}) || cfg.Duplicates != DLQDuplicates {
		t.Errorf("config = storage %v, max age %v, subjects %v, duplicates %v", cfg.Storage, cfg.MaxAge, cfg.Subjects, cfg.Duplicates)
	}
}

func TestEnsureStreamLeavesExistingAlone(t *testing.T) {
	js := newJetStream(t, startNATS(t))
	ctx := testContext(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ROOMWARDEN_DLQ", Subjects: []string{"roomwarden.dlq"}, MaxAge: time.Hour, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	if err := EnsureStream(ctx, js, "ROOMWARDEN_DLQ", "roomwarden.dlq", 1); err != nil {
		t.Fatalf("EnsureStream: %v", err)
	}
	s, err := js.Stream(ctx, "ROOMWARDEN_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.CachedInfo().Config; cfg.MaxAge != time.Hour || cfg.Storage != jetstream.MemoryStorage {
		t.Errorf("existing stream changed: max age %v, storage %v", cfg.MaxAge, cfg.Storage)
	}
}

func TestHeaderValue(t *testing.T) {
	tests := []struct {
		name, in, want string
		limit          int
	}{
		{"plain", "room gone", "room gone", 100},
		{"newlines", "a\r\nb\tc", "a  b c", 100},
		{"cut", "abcdef", "abc", 3},
		{"cut on rune boundary", "aé", "a", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := headerValue(tc.in, tc.limit); got != tc.want {
				t.Errorf("headerValue(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
			}
		})
	}
}

func newDeadLetter(t *testing.T, js jetstream.JetStream, subject string) *DeadLetter {
	t.Helper()
	d, err := NewDeadLetter(DeadLetterConfig{JetStream: js, Subject: subject})
	if err != nil {
		t.Fatalf("NewDeadLetter: %v", err)
	}
	return d
}
