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

// preload publishes n events from g and waits for the stream to store
// them all. It returns how many of them a rule acts on (Match).
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
