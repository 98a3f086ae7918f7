package replay

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine"
)

// DefaultBatch is how many messages the ordered consumer keeps buffered
// in the client when Source.Batch is not set.
const DefaultBatch = 4096

// Source is the stream a replay reads: the daemon's, read through an
// ordered consumer of its own (no acks, in memory, deleted by the
// server when idle), so the daemon's durable consumer and its acks are
// never touched.
type Source struct {
	JS     jetstream.JetStream
	Stream string
	// Subjects are the daemon's nats.subjects: when they differ from the
	// stream's, the replay reads only them, as the durable does.
	Subjects []string
	Batch    int // messages buffered in the client; 0: DefaultBatch
}

// Range is the part of the history a replay reads, in stream time:
// messages the stream stored from From (zero: its first) until Until
// (zero: its last message when the replay starts). The replay ends
// there; it does not wait for new messages.
type Range struct {
	From, Until time.Time
}

// Bounds are the stream's first and last messages when the replay
// started, and the last sequence it reads.
type Bounds struct {
	FirstSeq, LastSeq   uint64
	FirstTime, LastTime time.Time
}

// open reads the stream's bounds and opens an ordered consumer on r,
// or none (nil) when r holds no message.
func (s Source) open(ctx context.Context, r Range) (Bounds, jetstream.Consumer, error) {
	stream, err := s.JS.Stream(ctx, s.Stream)
	if err != nil {
		return Bounds{}, nil, fmt.Errorf("stream %s: %w", s.Stream, err)
	}
	info := stream.CachedInfo()
	st := info.State
	b := Bounds{FirstSeq: st.FirstSeq, LastSeq: st.LastSeq, FirstTime: st.FirstTime, LastTime: st.LastTime}
	if st.Msgs == 0 || (!r.From.IsZero() && st.LastTime.Before(r.From)) || (!r.Until.IsZero() && r.Until.Before(st.FirstTime)) {
		return b, nil, nil
	}
	cons, err := s.JS.OrderedConsumer(ctx, s.Stream, s.consumerConfig(info.Config.Subjects, r))
	if err != nil {
		return b, nil, fmt.Errorf("ordered consumer on %s: %w", s.Stream, err)
	}
	return b, cons, nil
}

// consumerConfig is the ordered consumer's: from r.From, on the
// daemon's subjects when they differ from the stream's.
func (s Source) consumerConfig(streamSubjects []string, r Range) jetstream.OrderedConsumerConfig {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy, InactiveThreshold: time.Minute,
		NamePrefix: ConsumerPrefix + strconv.FormatUint(rand.Uint64(), 36)}
	if len(s.Subjects) > 0 && !slices.Equal(streamSubjects, s.Subjects) {
		cfg.FilterSubjects = s.Subjects
	}
	if !r.From.IsZero() {
		from := r.From
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &from
	}
	return cfg
}

// drain calls fn with each message of cons in stream order until the
// message at lastSeq, the last one stored by until (zero: no bound), or
// the last one pending. It returns ctx's error when ctx ends first, and
// fn's error if fn fails.
func (s Source) drain(ctx context.Context, cons jetstream.Consumer, lastSeq uint64, until time.Time,
	fn func(engine.Delivery) error) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(s.batch()))
	if err != nil {
		return fmt.Errorf("read %s: %w", s.Stream, err)
	}
	defer s.remove(cons)
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	if empty, err := nothingPending(ctx, cons); err != nil || empty {
		return err
	}
	for {
		m, err := it.Next()
		if err != nil {
			return readError(ctx, s.Stream, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("read %s: %w", s.Stream, err)
		}
		seq := md.Sequence.Stream
		if seq > lastSeq || (!until.IsZero() && md.Timestamp.After(until)) {
			return nil
		}
		d := engine.Delivery{Subject: m.Subject(), Data: m.Data(), StreamSeq: seq, NumDelivered: 1,
			MsgID: m.Headers().Get(jetstream.MsgIDHeader), Published: md.Timestamp}
		if err := fn(d); err != nil {
			return err
		}
		if seq == lastSeq || md.NumPending == 0 {
			return nil
		}
	}
}

// ConsumerPrefix starts the names of the replay's ordered consumers
// (then a random part, so replays running at once keep apart), so that
// operators can tell them apart in `nats consumer ls`.
const ConsumerPrefix = "roomwarden-replay-"

// removeTimeout bounds deleting the ordered consumer at the end.
const removeTimeout = 5 * time.Second

// remove deletes the ordered consumer once done (the server would after
// a minute idle), even when the replay was stopped.
func (s Source) remove(cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), removeTimeout)
	defer cancel()
	_ = s.JS.DeleteConsumer(ctx, s.Stream, info.Name)
}

// nothingPending reports whether the consumer starts with nothing to
// deliver: the range holds no message on its subjects.
func nothingPending(ctx context.Context, cons jetstream.Consumer) (bool, error) {
	ci, err := cons.Info(ctx)
	if err != nil {
		return false, readError(ctx, "consumer info", err)
	}
	return ci.Delivered.Consumer == 0 && ci.NumPending == 0, nil
}

// readError is ctx's error if ctx ended (the iterator was stopped for
// it), else err in context.
func readError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
		return fmt.Errorf("read %s: the consumer stopped: %w", what, err)
	}
	return fmt.Errorf("read %s: %w", what, err)
}

func (s Source) batch() int {
	if s.Batch > 0 {
		return s.Batch
	}
	return DefaultBatch
}
