package daemontest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetters returns every message stored so far in the daemon's
// dead-letter stream (nats.dlq.stream), oldest first.
func (h *Harness) DeadLetters(js jetstream.JetStream) []*jetstream.RawStreamMsg {
	h.T.Helper()
	return StreamMessages(h.T, js, h.Config.NATS.DLQ.Stream)
}

// StreamMessages returns every message stored so far in stream, oldest
// first.
func StreamMessages(t testing.TB, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s info: %v", stream, err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("stream %s message %d: %v", stream, seq, err)
		}
		out = append(out, m)
	}
	return out
}

// ConsumerInfo reads the daemon's durable consumer (nats.durable on
// nats.stream) from the server js is connected to.
func (h *Harness) ConsumerInfo(js jetstream.JetStream) *jetstream.ConsumerInfo {
	h.T.Helper()
	return ConsumerInfo(h.T, js, h.Config.NATS.Stream, h.Config.NATS.Durable)
}

// ConsumerInfo reads a durable consumer's state: delivered, acked,
// pending and redelivered messages.
func ConsumerInfo(t testing.TB, js jetstream.JetStream, stream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		t.Fatalf("consumer %s on %s: %v", durable, stream, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("consumer %s on %s: info: %v", durable, stream, err)
	}
	return info
}

// WaitDeadLetters waits until the dead-letter stream holds at least n
// messages and returns them.
func (h *Harness) WaitDeadLetters(js jetstream.JetStream, n int, timeout time.Duration) []*jetstream.RawStreamMsg {
	h.T.Helper()
	var got []*jetstream.RawStreamMsg
	h.WaitFor(timeout, fmt.Sprintf("%d dead letters", n), func() bool {
		got = h.DeadLetters(js)
		return len(got) >= n
	})
	return got
}

// Capture collects the core NATS messages published on a subject
// (wildcards allowed) from the moment Subscribe returns.
type Capture struct {
	mu   sync.Mutex
	msgs []*nats.Msg
}

// Subscribe starts capturing subject on nc until the test ends.
func (h *Harness) Subscribe(nc *nats.Conn, subject string) *Capture {
	h.T.Helper()
	c := &Capture{}
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.msgs = append(c.msgs, m)
	})
	if err != nil {
		h.T.Fatalf("subscribe %s: %v", subject, err)
	}
	if err := nc.Flush(); err != nil {
		h.T.Fatalf("flush subscription %s: %v", subject, err)
	}
	h.T.Cleanup(func() { _ = sub.Unsubscribe() })
	return c
}

// Msgs returns the messages captured so far.
func (c *Capture) Msgs() []*nats.Msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*nats.Msg(nil), c.msgs...)
}
