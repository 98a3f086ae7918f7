package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/internal/benchtest"
)

type latencyFlags struct {
	daemonFlags
	rate           int
	runFor, settle time.Duration
	plain          bool
}

// runLatency is `loadgen latency`: publish at a rate, measure how long
// each matching event takes to reach its decision.
func runLatency(args []string, stdout io.Writer, logger *slog.Logger) error {
	var f latencyFlags
	fs := flag.NewFlagSet("latency", flag.ContinueOnError)
	f.register(fs, "NATS server URL", "the roomwarden binary; empty: a daemon is already running on -nats with the default stream, durable and actions subject")
	fs.IntVar(&f.rate, "rate", 10_000, "events per second; 0: as fast as possible")
	fs.DurationVar(&f.runFor, "for", 30*time.Second, "how long to publish")
	fs.DurationVar(&f.settle, "settle", 5*time.Second, "how long to wait for the last decisions")
	fs.BoolVar(&f.plain, "plain", false, "no daemon: measure a plain consumer that acks each event on arrival (the floor under the daemon's latency)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	if f.plain && (f.win.windows > 0 || f.state != "") {
		return errors.New("-plain runs no rules: -windows and -state do not apply")
	}
	return latency(f, stdout, logger)
}

func latency(f latencyFlags, stdout io.Writer, logger *slog.Logger) error {
	ctx := context.Background()
	nc, js, err := connect(f.natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	dec := newDecisions()
	var d *daemon
	switch {
	case f.plain:
		if err := resetStream(ctx, js); err != nil {
			return err
		}
		stop, err := plainConsumer(ctx, js, dec, f.matchEvery)
		if err != nil {
			return err
		}
		defer stop()
	case f.daemon != "":
		if err := resetAll(ctx, js); err != nil {
			return err
		}
		d, err = f.start()
		if err != nil {
			return err
		}
		defer d.stop()
		readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := d.waitReady(readyCtx); err != nil {
			return err
		}
	}
	sub, err := nc.Subscribe(actionsPrefix+".>", dec.onAction)
	if err != nil {
		return fmt.Errorf("subscribe to actions: %w", err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("subscribe to actions: %w", err)
	}
	pub, err := publishPaced(ctx, js, f)
	if err != nil {
		return err
	}
	logger.Info("published", "events", pub.events, "matching", pub.matching, "took", pub.took.Round(time.Millisecond))
	dec.waitFor(pub.matching, f.settle)
	decided, outcomes, foreign := dec.snapshot()
	reportLatency(stdout, f, pub, decided, outcomes, foreign)
	if d != nil {
		lag, err := d.waitDecisionLag(ctx, pub.events, f.settle)
		if err != nil {
			return err
		}
		reportDecisionLag(stdout, lag)
		if err := d.reportStateOps(ctx, stdout, "latency"); err != nil {
			return err
		}
	}
	return nil
}

// published is what publishPaced did.
type published struct {
	events, matching int
	took             time.Duration
}

// publishPaced publishes for f.runFor at f.rate events per second (0:
// as fast as the server acknowledges), each event's id stamped with its
// publish time.
func publishPaced(ctx context.Context, js jetstream.JetStream, f latencyFlags) (published, error) {
	g := f.events(uint64(time.Now().UnixNano()))
	var p published
	start := time.Now()
	for seq := uint64(0); ; seq++ {
		now := time.Now()
		if now.Sub(start) >= f.runFor {
			break
		}
		if f.rate > 0 {
			due := start.Add(time.Duration(seq) * time.Second / time.Duration(f.rate))
			if wait := due.Sub(now); wait > 0 {
				time.Sleep(wait)
				now = time.Now()
			}
		}
		e := g.Next(seq, now)
		if _, err := js.PublishAsync(e.Subject, e.Data); err != nil {
			return p, fmt.Errorf("publish: %w", err)
		}
		p.events++
		if e.Match {
			p.matching++
		}
		// Bound the unacknowledged publishes: always when flooding, and
		// when paced if the server falls behind.
		if seq%2000 == 1999 && (f.rate == 0 || js.PublishAsyncPending() > 2000) {
			if err := waitPublished(ctx, js); err != nil {
				return p, err
			}
		}
	}
	p.took = time.Since(start)
	return p, waitPublished(ctx, js)
}

// decisions collects latencies from the actions the daemon publishes.
// Each action carries its outcome's time and the time from the rule's
// match (the action's submission) to that outcome, so two latencies
// are read back per event: publish to decision (the match) and publish
// to outcome (the dry run rendered). The publish time is in the event id.
type decisions struct {
	mu       sync.Mutex
	decided  []time.Duration // publish to match
	outcomes []time.Duration // publish to terminal outcome
	seen     map[uint64]bool
	foreign  int
	arrived  chan struct{}
}

func newDecisions() *decisions {
	return &decisions{seen: make(map[uint64]bool), arrived: make(chan struct{}, 1)}
}

func (d *decisions) onAction(m *nats.Msg) {
	var o struct {
		Time      time.Time `json:"time"`
		EventID   string    `json:"event_id"`
		LatencyMS float64   `json:"latency_ms"`
	}
	if err := json.Unmarshal(m.Data, &o); err != nil {
		o.EventID = ""
	}
	decided := o.Time.Add(-time.Duration(o.LatencyMS * float64(time.Millisecond)))
	d.record(o.EventID, decided, o.Time)
}

// record notes that the event with this id was decided, then had its
// outcome, at these times.
func (d *decisions) record(id string, decided, outcome time.Time) {
	seq, at, err := benchtest.ParseID(id)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil || d.seen[seq] {
		d.foreign++ // not ours, or a redelivery's second decision
		return
	}
	d.seen[seq] = true
	d.decided = append(d.decided, decided.Sub(at))
	d.outcomes = append(d.outcomes, outcome.Sub(at))
	select {
	case d.arrived <- struct{}{}:
	default:
	}
}

// waitFor waits until n decisions arrived, or settle passed without one.
func (d *decisions) waitFor(n int, settle time.Duration) {
	for {
		d.mu.Lock()
		got := len(d.decided)
		d.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-d.arrived:
		case <-time.After(settle):
			return
		}
	}
}

func (d *decisions) snapshot() (decided, outcomes []time.Duration, foreign int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.decided), slices.Clone(d.outcomes), d.foreign
}

func reportLatency(w io.Writer, f latencyFlags, p published, decided, outcomes []time.Duration, foreign int) {
	report(w, "latency_target_rate", float64(f.rate), "events/s")
	report(w, "latency_published", float64(p.events), "events")
	report(w, "latency_publish_rate", float64(p.events)/p.took.Seconds(), "events/s")
	report(w, "latency_matching", float64(p.matching), "events")
	report(w, "latency_decisions", float64(len(decided)), "decisions")
	report(w, "latency_other_actions", float64(foreign), "messages")
	reportPercentiles(w, "latency", decided)
	if !f.plain {
		reportPercentiles(w, "outcome_latency", outcomes)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// reportPercentiles reports p50, p99, p99.9 and the maximum of ds.
func reportPercentiles(w io.Writer, name string, ds []time.Duration) {
	for _, q := range []float64{0.5, 0.99, 0.999} {
		report(w, fmt.Sprintf("%s_p%g", name, 100*q), ms(percentile(ds, q)), "ms")
	}
	report(w, name+"_max", ms(percentile(ds, 1)), "ms")
}
