package jsstate_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/internal/natstest"
	"github.com/roomwarden/roomwarden/internal/syncbuf"
)

// TestOpen: the first Open creates the bucket and the undo stream and
// says so; the next uses them silently.
func TestOpen(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	open(t, srv, jsstate.Config{Logger: logger, Replicas: 1})
	for _, want := range []string{`msg="created KV bucket" component=state bucket=roomwarden_state`,
		`msg="created stream" component=state stream=ROOMWARDEN_UNDO`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q does not contain %q", logs.String(), want)
		}
	}
	var again syncbuf.Buffer
	open(t, srv, jsstate.Config{Logger: slog.New(slog.NewTextHandler(&again, nil))})
	if strings.Contains(again.String(), "created") {
		t.Errorf("the second Open created something: %s", again.String())
	}
}

// TestOpenExistingBucketWithoutTTLs: a state bucket created without
// per-key TTLs gets them enabled.
func TestOpenExistingBucketWithoutTTLs(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	js := connect(t, srv)
	if _, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "old_state"}); err != nil {
		t.Fatal(err)
	}
	s := open(t, srv, jsstate.Config{Bucket: "old_state"})
	if err := wantBool(s.Acquire(t.Context(), "k", "o", time.Now(), time.Minute))(true); err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	kv, err := js.KeyValue(t.Context(), "old_state")
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(t.Context())
	if err != nil || st.LimitMarkerTTL() == 0 {
		t.Errorf("per-key TTLs not enabled: %v, %v", st, err)
	}
}

// TestOpenErrors: a bad config, a registry that has the metrics
// already, an undo stream that cannot schedule.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	js := connect(t, srv)
	reg := prometheus.NewRegistry()
	open(t, srv, jsstate.Config{Registerer: reg})
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "PLAIN", Subjects: []string{"plain.>"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  jsstate.Config
		want string
	}{
		{"no jetstream", jsstate.Config{}, "jetstream is required"},
		{"bad bucket", jsstate.Config{JetStream: js, Bucket: "a.b"}, `bucket "a.b"`},
		{"metrics registered twice", jsstate.Config{JetStream: js, Registerer: reg}, "register metrics"},
		{"undo stream without schedules", jsstate.Config{JetStream: js, UndoStream: "PLAIN", UndoSubject: "plain"},
			"undo stream PLAIN exists without message schedules"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := jsstate.Open(ctx, tc.cfg)
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
