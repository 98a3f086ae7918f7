package intake

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/wait"
)

// consumeLoop pulls messages into work until ctx is done, setting the
// consumer up again whenever it stops or disappears.
func (in *Intake) consumeLoop(ctx context.Context, work chan<- jetstream.Msg) {
	delay := retryMin
	for ctx.Err() == nil {
		err := in.consumeOnce(ctx, work)
		if err == nil {
			delay = retryMin
			continue
		}
		in.metrics.consumerErrors.Inc()
		in.setStatus(err)
		in.log.Warn("consumer not running; retrying", "err", err, "retry_in", delay)
		_ = wait.For(ctx, delay)
		delay = min(2*delay, retryMax)
	}
}

// consumeOnce runs one Consume subscription until ctx is done (nil), or
// the subscription stops or its consumer disappears (an error, or nil to
// restart at once).
func (in *Intake) consumeOnce(ctx context.Context, work chan<- jetstream.Msg) error {
	cons, err := in.currentConsumer(ctx)
	if err != nil {
		return err
	}
	trouble := make(chan error, 1)
	cc, err := cons.Consume(in.dispatch(ctx, work),
		jetstream.PullMaxMessages(in.cfg.FetchBatch),
		jetstream.PullExpiry(pullExpiry),
		jetstream.PullHeartbeat(pullHeartbeat),
		jetstream.ConsumeErrHandler(in.onConsumeError(trouble)))
	if err != nil {
		in.forgetConsumer()
		return fmt.Errorf("intake: consume: %w", err)
	}
	defer cc.Stop()
	in.setStatus(nil)
	in.log.Info("consuming", "stream", in.cfg.Stream, "durable", in.cfg.Durable)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-cc.Closed():
			in.forgetConsumer()
			return errors.New("intake: consumer subscription closed")
		case <-trouble:
			if err := in.checkConsumer(ctx, cons); err != nil {
				in.forgetConsumer()
				return err
			}
		}
	}
}

// dispatch is the NATS callback: it only queues the message for the
// workers (a buffer of one fetch batch), blocking while that is full,
// which holds back further pulls.
func (in *Intake) dispatch(ctx context.Context, work chan<- jetstream.Msg) jetstream.MessageHandler {
	return func(m jetstream.Msg) {
		in.metrics.received.Inc()
		if ctx.Err() != nil {
			in.giveBack(m) // shutting down
			return
		}
		select {
		case work <- m:
		case <-ctx.Done():
			in.giveBack(m)
		}
	}
}

// giveBack returns a message not handled because of shutdown, so that
// the next consumer (this daemon restarted, or another replica) gets it
// now rather than after AckWait.
func (in *Intake) giveBack(m jetstream.Msg) {
	in.metrics.verdicts[engine.Leave].Inc()
	_ = m.Nak()
}

// onConsumeError logs the consumer's errors and wakes consumeOnce to
// check that the consumer still exists.
func (in *Intake) onConsumeError(trouble chan<- error) jetstream.ConsumeErrHandler {
	return func(_ jetstream.ConsumeContext, err error) {
		in.metrics.consumerErrors.Inc()
		in.log.Warn("consumer error", "err", err)
		select {
		case trouble <- err:
		default:
		}
	}
}

// checkConsumer returns an error if the consumer or its stream is gone.
// Other failures (a reconnect in progress) are left to the client.
func (in *Intake) checkConsumer(ctx context.Context, cons jetstream.Consumer) error {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	_, err := cons.Info(ctx)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("intake: consumer %s: %w", in.cfg.Durable, err)
	}
	return nil
}

func (in *Intake) currentConsumer(ctx context.Context) (jetstream.Consumer, error) {
	in.mu.Lock()
	cons := in.consumer
	in.mu.Unlock()
	if cons != nil {
		return cons, nil
	}
	if err := in.Setup(ctx); err != nil {
		return nil, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.consumer, nil
}

func (in *Intake) forgetConsumer() {
	in.mu.Lock()
	in.consumer = nil
	in.mu.Unlock()
}
