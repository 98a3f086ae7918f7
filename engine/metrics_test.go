package engine

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/roomwarden/roomwarden/internal/benchtest"
	"github.com/roomwarden/roomwarden/rules"
)

// TestDecisionLagObservesFirstDeliveries checks that the decision lag
// is the time from the stream's timestamp to the evaluation, and that
// redeliveries (whose lag says nothing about keeping up) are left out.
func TestDecisionLagObservesFirstDeliveries(t *testing.T) {
	set, err := rules.Compile(rules.Source{Path: "r.yaml", Data: benchtest.RulesYAML(10)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	reg := prometheus.NewRegistry()
	p := newTestPipeline(t, PipelineConfig{Rules: benchRules{set}, Executor: &benchDrySubmitter{},
		Recorder: &benchRecorder{}, DryRun: true, Now: func() time.Time { return now }, Registerer: reg})

	g := benchtest.NewGenerator(10, 0, 1) // no event matches
	ctx := context.Background()
	for i, tc := range []struct {
		lag       time.Duration
		delivered uint64
	}{{3 * time.Millisecond, 1}, {40 * time.Millisecond, 1}, {time.Hour, 2}} {
		e := g.Next(uint64(i), now)
		d := Delivery{Subject: e.Subject, Data: e.Data, StreamSeq: uint64(i + 1),
			NumDelivered: tc.delivered, Published: now.Add(-tc.lag)}
		if r := p.HandleMessage(ctx, d); r.Verdict != Ack {
			t.Fatalf("delivery %d: verdict %s, want ack", i, r.Verdict)
		}
	}

	h := decisionLagHistogram(t, reg)
	if got := h.GetSampleCount(); got != 2 {
		t.Fatalf("observations = %d, want 2 (the redelivery left out)", got)
	}
	if got, want := h.GetSampleSum(), 0.043; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("sum = %v s, want %v", got, want)
	}
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == 0.005 && b.GetCumulativeCount() != 1 {
			t.Errorf("events within 5 ms = %d, want 1", b.GetCumulativeCount())
		}
	}
}

func decisionLagHistogram(t *testing.T, reg *prometheus.Registry) *dto.Histogram {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "roomwarden_event_decision_lag_seconds" {
			return mf.GetMetric()[0].GetHistogram()
		}
	}
	t.Fatal("roomwarden_event_decision_lag_seconds not registered")
	return nil
}
