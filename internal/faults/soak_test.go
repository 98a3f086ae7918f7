package faults

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// SoakEnv names the soak's duration (such as 10m); unset, TestSoak skips.
const SoakEnv = "ROOMWARDEN_SOAK"

// Soak load: soakRate events a second, one in soakMatchEvery matching a
// rule (50 actions a second), soakFailRate of the Room Engine's answers
// failing retryably.
const (
	soakRate       = 1000
	soakTick       = 10 * time.Millisecond
	soakMatchEvery = 20
	soakFailRate   = 0.05
)

// TestSoak runs the daemon binary against a real nats-server for
// $ROOMWARDEN_SOAK at 1,000 events a second with 5% of Room Engine
// answers failing retryably, samples events in, actions by outcome, RSS
// and goroutines from /metrics, and checks at the end that every
// matching event reached a terminal outcome and that neither RSS nor
// goroutines ran away. Run it with:
//
//	ROOMWARDEN_SOAK=10m go test -run '^TestSoak$' -v -timeout 30m ./internal/faults/
func TestSoak(t *testing.T) {
	dur := soakDuration(t)
	h := daemontest.New(t)
	ns := daemontest.StartNATSServer(t, t.TempDir())
	h.Config.NATS.URL = ns.URL()
	def := app.Default()
	h.Config.Executor.BackoffInitial, h.Config.Executor.BackoffMax = def.Executor.BackoffInitial, def.Executor.BackoffMax
	h.Sim.FailRate(soakFailRate, sim.Fault{Code: 100001})
	d := h.StartBinary(daemonBin)
	_, js := daemontest.ConnectURL(t, ns.URL())

	every := max(5*time.Second, dur/20)
	samples := []soakSample{sampleDaemon(d, 0, 0)}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	pub := &soakPublisher{js: js}
	nextSample := start.Add(every)
	pub.run(ctx, func(now time.Time) {
		if now.After(nextSample) {
			samples = append(samples, sampleDaemon(d, now.Sub(start), pub.sent))
			nextSample = nextSample.Add(every)
		}
	})
	if pub.err != nil {
		t.Fatalf("publisher: %v", pub.err)
	}
	log := h.ActionLog()
	h.WaitFor(5*time.Minute, "a terminal outcome for every matching event", func() bool {
		log = h.ActionLog()
		return haveAll(log, pub.matching)
	})
	samples = append(samples, sampleDaemon(d, time.Since(start), pub.sent))
	t.Logf("soak: %d events published in %s (%.0f/s), %d matching\n%s", pub.sent, dur,
		float64(pub.sent)/dur.Seconds(), len(pub.matching), soakTable(samples))
	checkSoak(t, h, js, log, pub.matching, samples)
}

func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv(SoakEnv)
	if v == "" {
		t.Skipf("soak run: set %s to a duration such as 10m", SoakEnv)
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a duration such as 10m", SoakEnv, v)
	}
	return d
}

// checkSoak: every matching event has a terminal line (succeeded, or
// dead-lettered and in the dead-letter stream); RSS and goroutines at
// the end are within bounds of their level after warm-up.
func checkSoak(t *testing.T, h *daemontest.Harness, js jetstream.JetStream, log []engine.Outcome, matching []string, samples []soakSample) {
	t.Helper()
	lines := byEvent(log)
	dlq, _ := daemontest.DeadLetterOutcomes(t, js, h.Config.NATS.DLQ.Stream)
	inDLQ := eventSet(dlq)
	for _, id := range matching {
		for _, o := range lines[id] {
			if o.Outcome == engine.DeadLettered && !inDLQ[id] {
				t.Errorf("event %s dead-lettered but not in the dead-letter stream", id)
			}
			if o.Outcome == engine.Failed || o.Outcome == engine.DryRun {
				t.Errorf("event %s: outcome %s, want succeeded or dead_lettered", id, o.Outcome)
			}
		}
	}
	t.Logf("RELIABILITY soak: matching=%d lines=%d succeeded=%d dead_lettered=%d suppressed=%d duplicate_events=%d retried=%d",
		len(matching), len(log), countOutcome(log, engine.Succeeded), countOutcome(log, engine.DeadLettered),
		countOutcome(log, engine.Suppressed), len(duplicates(log)), retriedSuccesses(log))
	if len(samples) < 4 {
		return // too short a run to judge growth
	}
	warm, last := samples[2], samples[len(samples)-1]
	if last.goroutines > warm.goroutines+200 {
		t.Errorf("goroutines grew from %.0f after warm-up to %.0f at the end", warm.goroutines, last.goroutines)
	}
	if last.rss > 2*warm.rss+64<<20 {
		t.Errorf("RSS grew from %.0f MiB after warm-up to %.0f MiB at the end", warm.rss/(1<<20), last.rss/(1<<20))
	}
}

// soakPublisher publishes the soak's events at soakRate.
type soakPublisher struct {
	js       jetstream.JetStream
	sent     int
	matching []string
	err      error
}

// run publishes until ctx ends, calling tick after every batch. Each
// batch catches up with the schedule (soakRate since start), so a slow
// tick does not lower the average rate.
func (p *soakPublisher) run(ctx context.Context, tick func(time.Time)) {
	tk := time.NewTicker(soakTick)
	defer tk.Stop()
	start := time.Now()
	maxBatch := 10 * int(soakRate*soakTick/time.Second)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C:
			due := int(now.Sub(start).Seconds()*soakRate) - p.sent
			if p.err = p.batch(min(due, maxBatch)); p.err != nil {
				return
			}
			tick(now)
		}
	}
}

// batch publishes n events asynchronously and waits for their acks,
// republishing (with the same message id) any that failed.
func (p *soakPublisher) batch(n int) error {
	type pending struct {
		id   string
		body []byte
		ack  jetstream.PubAckFuture
	}
	batch := make([]pending, 0, n)
	for range n {
		id := fmt.Sprintf("soak-%08d", p.sent)
		body := cleanJoin(id)
		if p.sent%soakMatchEvery == 0 {
			body = flaggedJoin(id)
			p.matching = append(p.matching, id)
		}
		p.sent++
		ack, err := p.js.PublishAsync(joinSubject, body, jetstream.WithMsgID(id))
		batch = append(batch, pending{id, body, ack})
		if err != nil {
			batch[len(batch)-1].ack = nil
		}
	}
	for _, b := range batch {
		if b.ack != nil {
			select {
			case <-b.ack.Ok():
				continue
			case <-b.ack.Err():
			case <-time.After(10 * time.Second):
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		err := daemontest.PublishAcked(ctx, p.js, joinSubject, b.id, b.body)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// soakSample is one reading of the daemon's /metrics.
type soakSample struct {
	at         time.Duration
	published  int
	received   float64
	retries    float64
	outcomes   map[engine.OutcomeKind]float64
	rss        float64
	goroutines float64
}

func sampleDaemon(d *daemontest.Daemon, at time.Duration, published int) soakSample {
	s := soakSample{at: at, published: published, outcomes: map[engine.OutcomeKind]float64{}}
	_, body, err := d.Get("/metrics")
	if err != nil {
		return s
	}
	s.received = daemontest.MetricValue(body, "roomwarden_events_received_total")
	s.retries = daemontest.MetricValue(body, "roomwarden_executor_retries_total")
	s.rss = daemontest.MetricValue(body, "process_resident_memory_bytes")
	s.goroutines = daemontest.MetricValue(body, "go_goroutines")
	for _, k := range []engine.OutcomeKind{engine.Succeeded, engine.DeadLettered, engine.Suppressed, engine.Failed} {
		s.outcomes[k] = sumSeries(body, fmt.Sprintf(`roomwarden_actions_total{outcome=%q`, k))
	}
	return s
}

// sumSeries adds up every sample whose line starts with prefix.
func sumSeries(body, prefix string) float64 {
	total := 0.0
	for line := range strings.Lines(body) {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		var v float64
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			if _, err := fmt.Sscan(line[i+1:], &v); err == nil {
				total += v
			}
		}
	}
	return total
}

// soakTable formats the samples as a Markdown table.
func soakTable(samples []soakSample) string {
	var b strings.Builder
	b.WriteString("| t | published | received | succeeded | dead_lettered | suppressed | failed | retries | RSS MiB | goroutines |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.1f | %.0f |\n",
			s.at.Round(time.Second), s.published, s.received, s.outcomes[engine.Succeeded],
			s.outcomes[engine.DeadLettered], s.outcomes[engine.Suppressed], s.outcomes[engine.Failed],
			s.retries, s.rss/(1<<20), s.goroutines)
	}
	return b.String()
}
