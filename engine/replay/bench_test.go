package replay

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/internal/benchtest"
	"github.com/roomwarden/roomwarden/rules"
)

// BenchmarkReplay replays b.N stored events of the benchmark workload
// (256-byte events, one in a hundred matching one of 100 distinct rules)
// from an in-process NATS server: the replay's own rate, reading,
// decoding and deciding, to compare with `nats bench js ordered` and
// `nats bench js consume` (scripts/replay-bench.sh measures it against
// a real nats-server).
func BenchmarkReplay(b *testing.B) {
	for _, baseline := range []bool{false, true} {
		name := "rules=100"
		if baseline {
			name += "/baseline"
		}
		b.Run(name, func(b *testing.B) { benchReplay(b, baseline) })
	}
}

func benchReplay(b *testing.B, baseline bool) {
	js := newStream(b)
	set, err := rules.Compile(rules.Source{Path: "bench.yaml", Data: benchtest.RulesYAML(100)})
	if err != nil {
		b.Fatal(err)
	}
	prefill(b, js, b.N)
	cfg := Config{Candidate: set, Source: Source{JS: js, Stream: testStream, Subjects: []string{testSubject}}}
	if baseline {
		cfg.Baseline = set
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	rep, err := Run(context.Background(), cfg)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil || rep.Events != b.N {
		b.Fatalf("Run: %v, %d events; want %d", err, rep.Events, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// prefill publishes n generated events and waits until they are stored.
func prefill(b *testing.B, js jetstream.JetStream, n int) {
	b.Helper()
	g := benchtest.NewGenerator(100, 100, 1)
	at := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	for seq := range uint64(n) {
		e := g.Next(seq, at.Add(time.Duration(seq)*time.Millisecond))
		if _, err := js.PublishAsync(e.Subject, e.Data); err != nil {
			b.Fatal(err)
		}
		if seq%4000 == 3999 {
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()
}
