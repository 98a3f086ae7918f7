package intake

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Ack batching. Each ack is a small publish, and the NATS client writes
// each publish with its own write(2) unless several are buffered when its
// flusher runs. At a steady 10,000 events/s that was a quarter of the
// daemon's CPU. The batcher holds acks for at most ackWindow and
// sends them back to back, so the client writes them together. An ack is
// still sent only after its event's outcomes are recorded; holding it
// changes nothing but when the server hears of it (a crash in the window
// means a redelivery, as a lost ack always did).
const (
	ackWindow   = time.Millisecond
	ackBatchMax = 256
)

// pendingAck is an ack waiting in the batcher, with what its failure
// log needs.
type pendingAck struct {
	msg       jetstream.Msg
	subject   string
	streamSeq uint64
}

// ackBatcher sends the acks queued on it in batches. Stop it only after
// the last add.
type ackBatcher struct {
	queue chan pendingAck
	done  chan struct{}
	send  func(pendingAck)
}

// startAckBatcher starts a batcher that sends each ack with send.
func startAckBatcher(send func(pendingAck)) *ackBatcher {
	b := &ackBatcher{
		queue: make(chan pendingAck, 4*ackBatchMax),
		done:  make(chan struct{}),
		send:  send,
	}
	go b.run()
	return b
}

// add queues an ack; it blocks while the queue is full.
func (b *ackBatcher) add(a pendingAck) { b.queue <- a }

// stop sends what is queued and returns once it is sent.
func (b *ackBatcher) stop() {
	close(b.queue)
	<-b.done
}

// run sends the acks in batches: it takes the first ack, lets the window
// pass so others can join (unless a full batch is already queued), and
// sends what it then has. It wakes twice per batch, not once per ack.
//
// A sent batch is cleared, not just truncated: an entry left in the
// array past a later, shorter batch would keep its message alive, and
// with it every message the NATS client received after it without its
// pending list running empty (nats.go does not clear a delivered
// Msg's link to the next one). One stale entry held hundreds of MB.
func (b *ackBatcher) run() {
	defer close(b.done)
	batch := make([]pendingAck, 0, ackBatchMax)
	for first := range b.queue {
		batch = b.take(append(batch[:0], first))
		if len(batch) < cap(batch) {
			time.Sleep(ackWindow)
			batch = b.take(batch)
		}
		for _, a := range batch {
			b.send(a)
		}
		clear(batch)
	}
}

// take adds the acks already queued to batch, up to its capacity.
func (b *ackBatcher) take(batch []pendingAck) []pendingAck {
	for len(batch) < cap(batch) {
		select {
		case a, ok := <-b.queue:
			if !ok {
				return batch
			}
			batch = append(batch, a)
		default:
			return batch
		}
	}
	return batch
}
