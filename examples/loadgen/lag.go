package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// decisionLag is the daemon's roomwarden_event_decision_lag_seconds
// histogram: every event's time from the stream storing it to its
// evaluation, where the action log shows only the matching events.
type decisionLag struct {
	count   float64
	buckets map[float64]float64 // upper bound in seconds → cumulative count
}

const lagMetric = "roomwarden_event_decision_lag_seconds"

// within returns the share of events decided within bound seconds, or
// false if the histogram has no such bucket.
func (l decisionLag) within(bound float64) (float64, bool) {
	n, ok := l.buckets[bound]
	if !ok || l.count == 0 {
		return 0, false
	}
	return n / l.count, true
}

// readDecisionLag scrapes the histogram from the daemon's /metrics.
func (d *daemon) readDecisionLag(ctx context.Context) (decisionLag, error) {
	body, err := d.scrape(ctx, "/metrics")
	if err != nil {
		return decisionLag{}, err
	}
	return parseDecisionLag(strings.NewReader(body))
}

// parseDecisionLag reads the histogram from the Prometheus text format.
func parseDecisionLag(r io.Reader) (decisionLag, error) {
	l := decisionLag{buckets: make(map[float64]float64)}
	found := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.HasPrefix(name, lagMetric) {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return l, fmt.Errorf("metric %s: %w", name, err)
		}
		switch {
		case name == lagMetric+"_count":
			l.count, found = v, true
		case strings.HasPrefix(name, lagMetric+`_bucket{le="`):
			le := strings.TrimSuffix(strings.TrimPrefix(name, lagMetric+`_bucket{le="`), `"}`)
			if bound, err := strconv.ParseFloat(le, 64); err == nil {
				l.buckets[bound] = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("read metrics: %w", err)
	}
	if !found {
		return l, fmt.Errorf("the daemon's /metrics has no %s", lagMetric)
	}
	return l, nil
}

// waitDecisionLag scrapes the histogram until it counts n events, or
// settle passes without a new one.
func (d *daemon) waitDecisionLag(ctx context.Context, n int, settle time.Duration) (decisionLag, error) {
	var last decisionLag
	changed := time.Now()
	for {
		l, err := d.readDecisionLag(ctx)
		if err != nil {
			return l, err
		}
		if l.count >= float64(n) {
			return l, nil
		}
		if l.count != last.count {
			last, changed = l, time.Now()
		} else if time.Since(changed) > settle {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return l, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// reportDecisionLag reports how many events the histogram holds and the
// share of them decided within each bucket bound up to 10 ms.
func reportDecisionLag(w io.Writer, l decisionLag) {
	report(w, "decision_lag_events", l.count, "events")
	for _, b := range []struct {
		name  string
		bound float64
	}{{"1ms", 0.001}, {"2ms", 0.002}, {"5ms", 0.005}, {"10ms", 0.01}} {
		if share, ok := l.within(b.bound); ok {
			report(w, "decision_lag_within_"+b.name, 100*share, "%")
		}
	}
}
