package grafana_test

import (
	"slices"
	"testing"
)

// metricNames returns the roomwarden_ metric names a PromQL query
// reads, each once, in order: identifiers outside string literals that
// start with roomwarden_. Label names (rule, code) and functions never
// do, so no parser is needed.
func metricNames(q string) []string {
	var out []string
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(q, i)
		case isIdentStart(c):
			j := i + 1
			for j < len(q) && isIdentPart(q[j]) {
				j++
			}
			if id := q[i:j]; len(id) > len("roomwarden_") && id[:len("roomwarden_")] == "roomwarden_" && !slices.Contains(out, id) {
				out = append(out, id)
			}
			i = j
		default:
			i++
		}
	}
	return out
}

// skipString returns the index after the string literal starting at i.
func skipString(q string, i int) int {
	quote := q[i]
	for i++; i < len(q); i++ {
		switch {
		case q[i] == '\\' && quote != '`':
			i++
		case q[i] == quote:
			return i + 1
		}
	}
	return i
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' }

func TestMetricNames(t *testing.T) {
	cases := []struct {
		q    string
		want []string
	}{
		{`sum(rate(roomwarden_actions_total{job=~"$job"}[5m]))`, []string{"roomwarden_actions_total"}},
		{`histogram_quantile(0.99, sum by (le, code) (rate(roomwarden_roomengine_call_duration_seconds_bucket[1m])))`,
			[]string{"roomwarden_roomengine_call_duration_seconds_bucket"}},
		{`a_roomwarden_x + roomwarden_a / roomwarden_a`, []string{"roomwarden_a"}},
		{`roomwarden_up{note="roomwarden_not_a_metric", x='roomwarden_nor_this \' still'}`, []string{"roomwarden_up"}},
		{`label_values(roomwarden_events_received_total{job=~"$job"}, instance)`, []string{"roomwarden_events_received_total"}},
		{`time() - roomwarden_rules_last_reload_success_timestamp_seconds`, []string{"roomwarden_rules_last_reload_success_timestamp_seconds"}},
		{`up{job="roomwarden"}`, nil},
	}
	for _, tc := range cases {
		if got := metricNames(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tc.q, got, tc.want)
		}
	}
}
