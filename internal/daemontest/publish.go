package daemontest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine"
)

// ConnectURL connects a producer to url that keeps reconnecting for as
// long as the test runs (a server restart does not close it).
func ConnectURL(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("daemontest-producer"), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// PublishAcked publishes body with id as its Nats-Msg-Id and retries
// until the stream acknowledges it or ctx ends. The message id lets the
// stream drop the copy of a retry whose earlier ack was lost.
func PublishAcked(ctx context.Context, js jetstream.JetStream, subject, id string, body []byte) error {
	for {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.Publish(tctx, subject, body, jetstream.WithMsgID(id))
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("publish %s: %w (last error: %w)", id, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// DeadLetterOutcomes reads every message of the dead-letter stream: the action
// dead letters decoded as outcomes, and how many event dead letters
// there were.
func DeadLetterOutcomes(t testing.TB, js jetstream.JetStream, stream string) (actions []engine.Outcome, events int) {
	t.Helper()
	for _, m := range StreamMessages(t, js, stream) {
		if m.Header.Get("Roomwarden-Kind") != "action" {
			events++
			continue
		}
		var o engine.Outcome
		if err := json.Unmarshal(m.Data, &o); err != nil {
			t.Fatalf("dead letter %d: %v", m.Sequence, err)
		}
		actions = append(actions, o)
	}
	return actions, events
}
