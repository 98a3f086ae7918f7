package intake

import (
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/nats-io/nats.go/jetstream"
)

// recordedAcks collects the stream sequences an ackBatcher sends.
type recordedAcks struct {
	mu   sync.Mutex
	seqs []uint64
	sent chan struct{}
}

func newRecordedAcks() *recordedAcks { return &recordedAcks{sent: make(chan struct{}, 1)} }

func (r *recordedAcks) send(a pendingAck) {
	r.mu.Lock()
	r.seqs = append(r.seqs, a.streamSeq)
	r.mu.Unlock()
	select {
	case r.sent <- struct{}{}:
	default:
	}
}

func (r *recordedAcks) got() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.seqs...)
}

func TestAckBatcherSendsEveryAckOnceInOrder(t *testing.T) {
	r := newRecordedAcks()
	b := startAckBatcher(r.send)
	const n = 5000
	for i := range uint64(n) {
		b.add(pendingAck{streamSeq: i + 1})
	}
	b.stop()
	got := r.got()
	if len(got) != n {
		t.Fatalf("sent %d acks, want %d", len(got), n)
	}
	for i, seq := range got {
		if seq != uint64(i+1) {
			t.Fatalf("ack %d is stream seq %d, want %d", i, seq, i+1)
		}
	}
}

func TestAckBatcherDoesNotHoldALoneAck(t *testing.T) {
	r := newRecordedAcks()
	b := startAckBatcher(r.send)
	defer b.stop()
	b.add(pendingAck{streamSeq: 7})
	select {
	case <-r.sent:
	case <-time.After(10 * time.Second):
		t.Fatal("a lone ack was not sent without stop")
	}
	if got := r.got(); len(got) != 1 || got[0] != 7 {
		t.Fatalf("sent %v, want [7]", got)
	}
}

func TestAckBatcherStopSendsWhatIsQueued(t *testing.T) {
	var (
		mu      sync.Mutex
		sent    int
		release = make(chan struct{})
	)
	b := startAckBatcher(func(pendingAck) {
		<-release // the first batch blocks until the rest is queued
		mu.Lock()
		sent++
		mu.Unlock()
	})
	for i := range uint64(100) {
		b.add(pendingAck{streamSeq: i})
	}
	close(release)
	b.stop()
	mu.Lock()
	defer mu.Unlock()
	if sent != 100 {
		t.Fatalf("sent %d acks by the time stop returned, want 100", sent)
	}
}

// ackedMsg stands for a message the batcher acks; the test watches
// whether anything still references it.
type ackedMsg struct {
	jetstream.Msg
	payload [256]byte
}

// TestAckBatcherLetsGoOfSentMessages: once an ack is sent the batcher
// holds no reference to its message, even in the part of its batch array
// past a later, shorter batch. A message kept there keeps alive every
// message the NATS client received after it (see run): this is what held
// the daemon's heap after a million events.
func TestAckBatcherLetsGoOfSentMessages(t *testing.T) {
	release := make(chan struct{})
	sent := make(chan struct{}, 1024)
	b := startAckBatcher(func(pendingAck) {
		<-release // the first batch waits until the rest is queued: one long batch follows
		sent <- struct{}{}
	})
	defer b.stop()
	const n = 200
	watched := addWatched(b, n)
	close(release)
	waitSent(t, sent, n)
	b.add(pendingAck{streamSeq: n + 1}) // a batch of one after the long one
	waitSent(t, sent, 1)

	runtime.GC()
	live := 0
	for _, w := range watched {
		if w.Value() != nil {
			live++
		}
	}
	if live != 0 {
		t.Errorf("%d of %d acked messages still reachable after a GC, want 0 (a sent batch must be cleared, not only truncated)", live, n)
	}
}

// addWatched queues n acks of fresh messages and returns weak pointers
// to them: the caller keeps no strong reference.
func addWatched(b *ackBatcher, n int) []weak.Pointer[ackedMsg] {
	watched := make([]weak.Pointer[ackedMsg], n)
	for i := range n {
		m := &ackedMsg{}
		watched[i] = weak.Make(m)
		b.add(pendingAck{msg: m, streamSeq: uint64(i + 1)})
	}
	return watched
}

func waitSent(t *testing.T, sent <-chan struct{}, n int) {
	t.Helper()
	for range n {
		select {
		case <-sent:
		case <-time.After(testPatience):
			t.Fatal("acks not sent")
		}
	}
}
