package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The daemon's defaults, which the generated config keeps.
const (
	streamName    = "ROOM_EVENTS"
	streamSubject = "rooms.events.>"
	durableName   = "roomwarden"
	actionsPrefix = "roomwarden.actions"
	// stateBucketName is the daemon's state.bucket: its cooldowns,
	// windows and lock records live there, one key each.
	stateBucketName = "roomwarden_state"
)

// connect opens a JetStream context on url.
func connect(url string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url, nats.Name("roomwarden-loadgen"))
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// connectEmpty opens a JetStream context on url with nothing left of a
// previous run (resetAll).
func connectEmpty(ctx context.Context, url string) (*nats.Conn, jetstream.JetStream, error) {
	nc, js, err := connect(url)
	if err != nil {
		return nil, nil, err
	}
	if err := resetAll(ctx, js); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// resetAll empties ROOM_EVENTS (resetStream) and deletes the state
// bucket (deleteStateBucket), so that a daemon starts from nothing.
func resetAll(ctx context.Context, js jetstream.JetStream) error {
	if err := resetStream(ctx, js); err != nil {
		return err
	}
	return deleteStateBucket(ctx, js)
}

// resetStream deletes ROOM_EVENTS (and with it the daemon's consumer)
// and creates it empty, as the daemon would.
func resetStream(ctx context.Context, js jetstream.JetStream) error {
	if err := js.DeleteStream(ctx, streamName); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete stream: %w", err)
	}
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: streamName, Subjects: []string{streamSubject},
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute, MaxAge: 24 * time.Hour,
	})
	if err != nil {
		return fmt.Errorf("create stream: %w", err)
	}
	return nil
}

// deleteStateBucket removes the state a previous run left.
func deleteStateBucket(ctx context.Context, js jetstream.JetStream) error {
	if err := js.DeleteKeyValue(ctx, stateBucketName); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("delete state bucket: %w", err)
	}
	return nil
}

// stateBucket returns how many values the state bucket holds (its
// history is 1: one per key) and their bytes. A dry run records no
// locks, so its only keys are the cooldowns and the windows.
func stateBucket(ctx context.Context, js jetstream.JetStream) (uint64, uint64, error) {
	kv, err := js.KeyValue(ctx, stateBucketName)
	if err != nil {
		return 0, 0, fmt.Errorf("state bucket: %w", err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("state bucket: %w", err)
	}
	return st.Values(), st.Bytes(), nil
}

// stateWrites returns how many messages the state bucket's stream has
// taken since it was created (its last sequence): every write the daemon
// made to it, compare-and-swap or not, deletes included.
func stateWrites(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	st, err := js.Stream(ctx, "KV_"+stateBucketName)
	if err != nil {
		return 0, fmt.Errorf("state bucket stream: %w", err)
	}
	return st.CachedInfo().State.LastSeq, nil
}

// preload publishes n events from g, a window of them at a time, and
// waits for the stream to store them all. It returns how many of them a
// rule acts on (Match).
func preload(ctx context.Context, js jetstream.JetStream, n int, g eventSource) (matching int, err error) {
	const window = 4000
	for seq := range uint64(n) {
		e := g.Next(seq, time.Now())
		if _, err := js.PublishAsync(e.Subject, e.Data); err != nil {
			return matching, fmt.Errorf("publish event %d: %w", seq, err)
		}
		if e.Match {
			matching++
		}
		if seq%window == window-1 {
			if err := waitPublished(ctx, js); err != nil {
				return matching, err
			}
		}
	}
	return matching, waitPublished(ctx, js)
}

func waitPublished(ctx context.Context, js jetstream.JetStream) error {
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for publish acks: %w", ctx.Err())
	}
}
