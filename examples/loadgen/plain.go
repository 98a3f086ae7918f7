package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/internal/benchtest"
)

// plainFetchBatch is the daemon's default nats.consumer.fetch_batch.
const plainFetchBatch = 500

// plainConsumer stands in for the daemon in `latency -plain`: a durable
// pull consumer with the daemon's pull batch that acknowledges every
// event on arrival and records the receive latency of the matching ones.
// It measures the floor that NATS, the client and this machine put under
// publish-to-decision latency.
func plainConsumer(ctx context.Context, js jetstream.JetStream, dec *decisions, matchEvery int) (stop func(), err error) {
	cons, err := js.CreateOrUpdateConsumer(ctx, streamName, jetstream.ConsumerConfig{
		Durable: "loadgen-plain", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 20_000,
	})
	if err != nil {
		return nil, fmt.Errorf("plain consumer: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		at := time.Now()
		_ = m.Ack()
		if id, ok := eventID(m.Data()); ok && matchingID(id, matchEvery) {
			dec.record(id, at, at)
		}
	}, jetstream.PullMaxMessages(plainFetchBatch))
	if err != nil {
		return nil, fmt.Errorf("plain consume: %w", err)
	}
	return cc.Stop, nil
}

// eventID returns the id of a generated event, whose JSON starts with it.
func eventID(data []byte) (string, bool) {
	rest, ok := bytes.CutPrefix(data, []byte(`{"id":"`))
	if !ok {
		return "", false
	}
	id, _, ok := bytes.Cut(rest, []byte(`"`))
	return string(id), ok
}

// matchingID reports whether a generated event id is one loadgen counts
// as matching (its sequence a multiple of matchEvery).
func matchingID(id string, matchEvery int) bool {
	seq, _, err := benchtest.ParseID(id)
	return err == nil && matchEvery > 0 && seq%uint64(matchEvery) == 0
}
