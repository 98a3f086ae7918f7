package intake

import (
	"sync"
	"testing"
	"time"
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
