package app

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine/replicas"
)

// openReplicas joins the replicas that share executor.rate_per_second
// (engine/replicas): it puts this daemon's heartbeat key in the
// replicas bucket (created with state.replicas replication) and gives
// the executor its share, 0 while it joins others. Call it once the
// executor is built and before anything is submitted.
func (a *App) openReplicas(ctx context.Context, js jetstream.JetStream) error {
	m, err := replicas.Open(ctx, replicas.Config{JetStream: js, Pacer: a.exec,
		Rate: a.cfg.ExecutorConfig().RatePerSecond, Window: a.exec.RateWindow(), Replicas: a.cfg.State.Replicas,
		Logger: a.log, Registerer: a.reg})
	if err != nil {
		return fmt.Errorf("replicas: %w", err)
	}
	a.replicas = m
	return nil
}

// runReplicas keeps the heartbeat and the share up to date until the
// returned func is called, which leaves: the share drops to 0 and the
// key is purged, so the other replicas take the share over one rate
// window later. Call that func only once the executor has stopped, so
// that no call of this daemon follows its leaving.
func (a *App) runReplicas() (leave func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.replicas.Run(ctx); err != nil {
			a.log.Warn("leaving the replicas", "component", "replicas", "err", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
