package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// scrape GETs a path on the daemon's operations endpoint.
func (d *daemon) scrape(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.httpAddr+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("get %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("get %s: %s", path, resp.Status)
	}
	return string(body), err
}

// metricValue is the value of the first sample of series in a /metrics
// body, or -1.
func metricValue(body, series string) float64 {
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
				return v
			}
		}
	}
	return -1
}

// stateOps is what the daemon's metrics say of its store calls of one
// kind: how many succeeded and failed (roomwarden_state_ops_total),
// their mean duration (roomwarden_state_op_duration_seconds; 0 if
// none), and how many of their compare-and-swap writes were retried
// (roomwarden_state_cas_retries_total).
type stateOps struct{ ok, failed, meanMS, retries float64 }

// stateOpKinds are the store calls an event can make.
var stateOpKinds = []string{"feed", "count", "acquire", "overridden_until", "override", "spend"}

// stateOps reads the daemon's figures for the store calls of op.
func (d *daemon) stateOps(ctx context.Context, op string) (stateOps, error) {
	body, err := d.scrape(ctx, "/metrics")
	if err != nil {
		return stateOps{}, err
	}
	var s stateOps
	for _, r := range []string{"ok", "conflict", "unavailable", "error"} {
		v := metricValue(body, fmt.Sprintf("roomwarden_state_ops_total{op=%q,result=%q}", op, r))
		switch {
		case v < 0:
		case r == "ok":
			s.ok = v
		default:
			s.failed += v
		}
	}
	sum := metricValue(body, fmt.Sprintf("roomwarden_state_op_duration_seconds_sum{op=%q}", op))
	if n := metricValue(body, fmt.Sprintf("roomwarden_state_op_duration_seconds_count{op=%q}", op)); n > 0 && sum >= 0 {
		s.meanMS = 1000 * sum / n
	}
	s.retries = max(0, metricValue(body, fmt.Sprintf("roomwarden_state_cas_retries_total{op=%q}", op)))
	return s, nil
}

// reportStateOps reports the daemon's store calls of each kind that it
// made: how many, their mean duration, and the compare-and-swap
// retries if there were any.
func (d *daemon) reportStateOps(ctx context.Context, w io.Writer, prefix string) error {
	for _, op := range stateOpKinds {
		s, err := d.stateOps(ctx, op)
		if err != nil {
			return err
		}
		if s.ok+s.failed == 0 {
			continue
		}
		report(w, prefix+"_state_"+op, s.ok, "calls")
		if s.failed > 0 {
			report(w, prefix+"_state_"+op+"_failed", s.failed, "calls")
		}
		report(w, prefix+"_state_"+op+"_mean", s.meanMS, "ms")
		if s.retries > 0 {
			report(w, prefix+"_state_"+op+"_cas_retries", s.retries, "conflicts (a compare-and-swap refused, then the key read again)")
		}
	}
	return nil
}
