package intake

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine"
)

// pool runs handlers on a fixed set of workers. Each worker owns a
// slot holding the message it is handling, so a single ticker can keep
// every long-running message alive with InProgress.
type pool struct {
	slots []slot
	quit  chan struct{}
	done  chan struct{}

	// Deferred messages: handled, waiting on work that finishes later
	// (Result.Wait), each kept alive like a worker's message.
	mu       sync.Mutex
	deferred map[*slot]struct{}
	waiting  sync.WaitGroup
}

// slot is one worker's in-flight message. The lock orders
// InProgress before the final ack, never after it.
type slot struct {
	mu      sync.Mutex
	msg     jetstream.Msg
	touched time.Time // start, or the last InProgress
}

func (in *Intake) startPool(ctx context.Context, work <-chan jetstream.Msg) *pool {
	p := &pool{
		slots:    make([]slot, in.cfg.Concurrency),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		deferred: make(map[*slot]struct{}),
	}
	var wg sync.WaitGroup
	for i := range p.slots {
		wg.Go(func() { in.worker(ctx, p, &p.slots[i], work) })
	}
	keepAliveDone := make(chan struct{})
	go in.keepAlive(p, keepAliveDone)
	go func() {
		wg.Wait()        // no worker left, so nothing more is deferred
		p.waiting.Wait() // and every deferred message is settled
		close(keepAliveDone)
		close(p.done)
	}()
	return p
}

// stop tells idle workers to exit and returns a channel closed once every
// worker has finished its current message and every deferred message is
// settled.
func (p *pool) stop() <-chan struct{} {
	close(p.quit)
	return p.done
}

func (p *pool) active() int {
	p.mu.Lock()
	n := len(p.deferred)
	p.mu.Unlock()
	for i := range p.slots {
		s := &p.slots[i]
		s.mu.Lock()
		if s.msg != nil {
			n++
		}
		s.mu.Unlock()
	}
	return n
}

func (in *Intake) worker(ctx context.Context, p *pool, s *slot, work <-chan jetstream.Msg) {
	for {
		select {
		case <-p.quit: // checked first: buffered messages are left at shutdown
			return
		default:
		}
		select {
		case m := <-work:
			in.handle(ctx, p, s, m)
		case <-p.quit:
			return
		}
	}
}

// keepAlive sends InProgress, every quarter of AckWait, for each message
// whose handler has been running for at least that long: a message goes
// at most half its AckWait without one.
func (in *Intake) keepAlive(p *pool, done <-chan struct{}) {
	every := in.cfg.AckWait / 4
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			p.touchOlderThan(now.Add(-every), now, in)
		}
	}
}

func (p *pool) touchOlderThan(cutoff, now time.Time, in *Intake) {
	for i := range p.slots {
		p.slots[i].touchIfOlder(cutoff, now, in)
	}
	p.mu.Lock()
	deferred := make([]*slot, 0, len(p.deferred))
	for s := range p.deferred {
		deferred = append(deferred, s)
	}
	p.mu.Unlock()
	for _, s := range deferred {
		s.touchIfOlder(cutoff, now, in)
	}
}

func (s *slot) touchIfOlder(cutoff, now time.Time, in *Intake) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.msg != nil && !s.touched.After(cutoff) {
		if err := s.msg.InProgress(); err != nil {
			in.log.Warn("in progress", "err", err)
		}
		s.touched = now
	}
}

func (in *Intake) handle(ctx context.Context, p *pool, s *slot, m jetstream.Msg) {
	d, err := delivery(m)
	if err != nil {
		in.metrics.consumerErrors.Inc()
		in.log.Error("message without jetstream metadata", "subject", m.Subject(), "err", err)
		return
	}
	start := time.Now()
	s.mu.Lock()
	s.msg, s.touched = m, start
	s.mu.Unlock()
	in.metrics.inFlight.Inc()

	r := in.call(ctx, d)

	s.mu.Lock()
	touched := s.touched
	s.msg = nil
	s.mu.Unlock()
	if r.Wait != nil {
		in.settleLater(ctx, p, m, touched, d, start, r.Wait)
		return
	}
	in.settle(ctx, m, d, start, r)
}

// settle records a handled message's metrics and applies its result.
func (in *Intake) settle(ctx context.Context, m jetstream.Msg, d engine.Delivery, start time.Time, r engine.Result) {
	in.metrics.inFlight.Dec()
	in.metrics.duration.Observe(time.Since(start).Seconds())
	in.apply(ctx, m, d, r)
}

// settleLater waits for a deferred result in its own goroutine, so the
// worker moves on; the message stays in the pool's deferred set, kept
// alive by keepAlive, until the result is applied.
func (in *Intake) settleLater(ctx context.Context, p *pool, m jetstream.Msg, touched time.Time,
	d engine.Delivery, start time.Time, wait func(context.Context) engine.Result) {
	ds := &slot{msg: m, touched: touched}
	p.mu.Lock()
	p.deferred[ds] = struct{}{}
	p.mu.Unlock()
	p.waiting.Go(func() {
		r := in.callWait(ctx, d, wait)
		ds.mu.Lock()
		ds.msg = nil // no InProgress after the final ack
		ds.mu.Unlock()
		p.mu.Lock()
		delete(p.deferred, ds)
		p.mu.Unlock()
		in.settle(ctx, m, d, start, r)
	})
}

// callWait runs a deferred result's Wait, like call.
func (in *Intake) callWait(ctx context.Context, d engine.Delivery, wait func(context.Context) engine.Result) (r engine.Result) {
	defer func() {
		if p := recover(); p != nil {
			in.log.Error("handler panicked; leaving the event for redelivery",
				"subject", d.Subject, "stream_seq", d.StreamSeq, "panic", fmt.Sprint(p))
			r = engine.Result{Verdict: engine.Leave}
		}
	}()
	return wait(ctx)
}

// call runs the handler; a panic leaves the message for redelivery (and,
// repeated, for the max-deliveries dead letter) instead of crashing.
func (in *Intake) call(ctx context.Context, d engine.Delivery) (r engine.Result) {
	defer func() {
		if p := recover(); p != nil {
			in.log.Error("handler panicked; leaving the event for redelivery",
				"subject", d.Subject, "stream_seq", d.StreamSeq, "panic", fmt.Sprint(p))
			r = engine.Result{Verdict: engine.Leave}
		}
	}()
	return in.h.HandleMessage(ctx, d)
}

func delivery(m jetstream.Msg) (engine.Delivery, error) {
	md, err := m.Metadata()
	if err != nil {
		return engine.Delivery{}, fmt.Errorf("intake: metadata: %w", err)
	}
	return engine.Delivery{
		Subject:      m.Subject(),
		Data:         m.Data(),
		StreamSeq:    md.Sequence.Stream,
		NumDelivered: md.NumDelivered,
		MsgID:        m.Headers().Get(jetstream.MsgIDHeader),
		Published:    md.Timestamp,
	}, nil
}

// apply acknowledges m as r says.
func (in *Intake) apply(ctx context.Context, m jetstream.Msg, d engine.Delivery, r engine.Result) {
	v := r.Verdict
	if v < engine.Ack || v > engine.Leave {
		v = engine.Leave
	}
	var err error
	switch v {
	case engine.Ack:
		if in.cfg.DoubleAck {
			err = in.doubleAck(ctx, m)
		} else {
			in.acks.add(pendingAck{msg: m, subject: d.Subject, streamSeq: d.StreamSeq}) // failures logged when sent
		}
	case engine.Nak:
		err = nak(m, r.Delay)
	case engine.Term:
		err = term(m, r.Reason)
	case engine.Leave:
		err = m.Nak() // prompt redelivery to whoever consumes next
	}
	in.metrics.verdicts[v].Inc()
	if err != nil {
		in.ackFailed(v, d.Subject, d.StreamSeq, err)
	}
}

// sendAck sends an ack the batcher held.
func (in *Intake) sendAck(a pendingAck) {
	if err := a.msg.Ack(); err != nil {
		in.ackFailed(engine.Ack, a.subject, a.streamSeq, err)
	}
}

func (in *Intake) ackFailed(v engine.Verdict, subject string, streamSeq uint64, err error) {
	in.metrics.ackErrors.Inc()
	in.log.Warn("acknowledging event failed; it will be redelivered",
		"verdict", v.String(), "subject", subject, "stream_seq", streamSeq, "err", err)
}

// doubleAck acks m and waits for the server to confirm (DoubleAck);
// plain acks go through the batcher.
func (in *Intake) doubleAck(ctx context.Context, m jetstream.Msg) error {
	// A finished handler's ack must go out even on hard shutdown.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
	defer cancel()
	return m.DoubleAck(ctx)
}

func nak(m jetstream.Msg, delay time.Duration) error {
	if delay > 0 {
		return m.NakWithDelay(delay)
	}
	return m.Nak()
}

func term(m jetstream.Msg, reason string) error {
	if reason != "" {
		return m.TermWithReason(reason)
	}
	return m.Term()
}
