package intake

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/natstest"
)

// payloadWatch keeps weak pointers to the payloads of the deliveries
// it sees, to tell whether anything still references them.
type payloadWatch struct {
	mu   sync.Mutex
	ptrs []weak.Pointer[byte]
}

func (w *payloadWatch) see(d engine.Delivery) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ptrs = append(w.ptrs, weak.Make(&d.Data[0]))
	return len(w.ptrs)
}

func (w *payloadWatch) live() (live, seen int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.ptrs {
		if p.Value() != nil {
			live++
		}
	}
	return live, len(w.ptrs)
}

// TestIntakeLetsGoOfAckedMessages: once the intake has acked a message
// nothing in it (workers, deferred results, the ack batcher) references
// the message any more, so the NATS client's payload buffers are
// garbage. The acks of a burst of deferred results go out in long
// batches, then a lone event gets a batch of its own: the layout in
// which a truncated but uncleared batch kept messages (and through
// nats.go's links between received messages, every later one) alive.
func TestIntakeLetsGoOfAckedMessages(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	cfg := testConfig()
	const burst = 300
	release := make(chan struct{})
	var w payloadWatch
	burstSeen := make(chan struct{})
	h := handlerFunc(func(_ context.Context, d engine.Delivery) engine.Result {
		n := w.see(d)
		if n > burst {
			return engine.Result{Verdict: engine.Ack}
		}
		if n == burst {
			close(burstSeen)
		}
		return ackOnRelease(release)
	})
	runIntake(t, js, cfg, h)
	publishSized(t, js, burst, 4<<10)
	select {
	case <-burstSeen:
	case <-time.After(testPatience):
		t.Fatal("the burst was not delivered")
	}
	close(release) // the burst's acks all at once
	waitSettled(t, js, cfg)
	publishSized(t, js, 1, 4<<10)
	waitSettled(t, js, cfg)

	runtime.GC()
	if live, seen := w.live(); live > 2 {
		t.Errorf("%d of %d acked payloads still reachable after a GC, want at most 2", live, seen)
	}
}

// publishSized publishes n events of size bytes each.
func publishSized(t *testing.T, js jetstream.JetStream, n, size int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testPatience)
	defer cancel()
	data := append([]byte(`{"type":"member.enter","attrs":{"pad":"`), bytes.Repeat([]byte("x"), size)...)
	data = append(data, `"}}`...)
	for range n {
		if _, err := js.Publish(ctx, "rooms.events.member.enter", data); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
}
