package intake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Setup creates the stream if it does not exist (an existing stream is
// used as it is) and creates or updates the durable pull consumer.
func (in *Intake) Setup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	stream, err := in.stream(ctx)
	if err != nil {
		return err
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, in.consumerConfig(stream.CachedInfo()))
	if err != nil {
		return fmt.Errorf("intake: create or update consumer %s on stream %s: %w", in.cfg.Durable, in.cfg.Stream, err)
	}
	in.mu.Lock()
	in.consumer = cons
	in.mu.Unlock()
	return nil
}

func (in *Intake) stream(ctx context.Context) (jetstream.Stream, error) {
	s, err := in.js.Stream(ctx, in.cfg.Stream)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("intake: look up stream %s: %w", in.cfg.Stream, err)
	}
	s, err = in.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       in.cfg.Stream,
		Subjects:   in.cfg.Subjects,
		Storage:    jetstream.FileStorage,
		Duplicates: in.cfg.Duplicates,
		MaxAge:     in.cfg.MaxAge,
		Replicas:   in.cfg.Replicas,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		// Another instance created it first.
		s, err = in.js.Stream(ctx, in.cfg.Stream)
	}
	if err != nil {
		return nil, fmt.Errorf("intake: create stream %s: %w", in.cfg.Stream, err)
	}
	in.log.Info("created stream", "stream", in.cfg.Stream, "subjects", in.cfg.Subjects, "max_age", in.cfg.MaxAge)
	return s, nil
}

func (in *Intake) consumerConfig(si *jetstream.StreamInfo) jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       in.cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       in.cfg.AckWait,
		MaxAckPending: in.cfg.MaxAckPending,
		MaxDeliver:    in.cfg.MaxDeliver,
		BackOff:       backOff(in.cfg.BackOff, in.cfg.AckWait),
	}
	// A stream we did not create may carry more subjects than ours.
	if si == nil || !slices.Equal(si.Config.Subjects, in.cfg.Subjects) {
		cc.FilterSubjects = in.cfg.Subjects
	}
	return cc
}

// backOff raises every step to at least ackWait: JetStream uses
// BackOff[n] as the ack wait of delivery n+1, so a shorter step would
// redeliver messages whose handlers are still running.
func backOff(steps []time.Duration, ackWait time.Duration) []time.Duration {
	if len(steps) == 0 {
		return nil
	}
	out := make([]time.Duration, len(steps))
	for i, s := range steps {
		out[i] = max(s, ackWait)
	}
	return out
}
