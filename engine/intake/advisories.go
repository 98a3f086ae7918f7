package intake

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/roomwarden/roomwarden/engine"
)

// maxDeliveriesAdvisory is the part of JetStream's max-deliveries
// advisory the intake reads.
type maxDeliveriesAdvisory struct {
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// advisories receives max-deliveries advisories for the consumer.
type advisories struct {
	sub  *nats.Subscription
	quit chan struct{}
	done chan struct{}
}

// watchMaxDeliveries subscribes to the consumer's max-deliveries advisory
// so that messages JetStream stops redelivering reach the dead letter
// instead of vanishing. Core subscriptions survive reconnects.
func (in *Intake) watchMaxDeliveries(ctx context.Context) (*advisories, error) {
	subject := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", in.cfg.Stream, in.cfg.Durable)
	ch := make(chan *nats.Msg, 1024)
	sub, err := in.js.Conn().ChanSubscribe(subject, ch)
	if err != nil {
		return nil, fmt.Errorf("intake: subscribe to %s: %w", subject, err)
	}
	a := &advisories{sub: sub, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			select {
			case <-a.quit:
				return
			case m := <-ch:
				in.deadLetterMaxDelivered(ctx, m.Data)
			}
		}
	}()
	return a, nil
}

func (a *advisories) stop() {
	_ = a.sub.Unsubscribe()
	close(a.quit)
	<-a.done
}

// deadLetterMaxDelivered fetches the message an advisory names and hands
// it to the dead-letter sink.
func (in *Intake) deadLetterMaxDelivered(ctx context.Context, advisory []byte) {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(advisory, &adv); err != nil {
		in.log.Error("bad max-deliveries advisory", "err", err)
		return
	}
	in.metrics.maxDeliveries.Inc()
	m := engine.Malformed{
		StreamSeq: adv.StreamSeq,
		Reason:    fmt.Sprintf("exceeded max deliveries (%d)", adv.Deliveries),
	}
	log := in.log.With("stream_seq", adv.StreamSeq, "deliveries", adv.Deliveries)
	if err := in.fetchStored(ctx, &m); err != nil {
		log.Error("dead-lettering an event without its body", "err", err)
	}
	if in.cfg.DeadLetters == nil {
		log.Error("event exceeded max deliveries and no dead-letter sink is configured", "subject", m.Subject)
		return
	}
	if err := in.cfg.DeadLetters.DeadLetterEvent(ctx, m); err != nil {
		log.Error("dead-lettering event that exceeded max deliveries", "subject", m.Subject, "err", err)
		return
	}
	log.Warn("event exceeded max deliveries; dead-lettered", "subject", m.Subject)
}

func (in *Intake) fetchStored(ctx context.Context, m *engine.Malformed) error {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	s, err := in.js.Stream(ctx, in.cfg.Stream)
	if err != nil {
		return fmt.Errorf("intake: stream %s: %w", in.cfg.Stream, err)
	}
	raw, err := s.GetMsg(ctx, m.StreamSeq)
	if err != nil {
		return fmt.Errorf("intake: get message %d: %w", m.StreamSeq, err)
	}
	m.Subject, m.Data = raw.Subject, raw.Data
	return nil
}
