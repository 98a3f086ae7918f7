package executor

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestLatencyFromTheDecisionProbe is a probe of issue [1c/6] item 6:
// latency_ms was measured from the submit, so an action that waited
// behind a 50,000-call fan-out before it was even submitted showed 52 s
// for a call that took 257 s. An outcome's latency_ms now runs from the
// decision (Action.Decided) and queued_ms says how much of it was spent
// before the first call. The test backdates the decision by an hour,
// so no timing of this machine matters.
func TestLatencyFromTheDecisionProbe(t *testing.T) {
	e, _ := newExecFixture(t, Config{}, nil)
	runExecFixture(t, e)
	c := newExecCollector()
	a := execAction(execSeat("room", 1), 1)
	a.Decided = time.Now().Add(-time.Hour)
	execSubmit(t, e, c, a)
	r := c.wait(t, 1)[0]
	if r.err != nil {
		t.Fatalf("err = %v", r.err)
	}
	const hourMS = 3_600_000
	o := r.o
	if o.LatencyMS < hourMS {
		t.Errorf("latency_ms = %v for an action decided an hour before, want at least %d (measured from the decision)", o.LatencyMS, hourMS)
	}
	if o.QueuedMS < hourMS || o.QueuedMS > o.LatencyMS {
		t.Errorf("queued_ms = %v with latency_ms %v, want at least %d and at most the latency", o.QueuedMS, o.LatencyMS, hourMS)
	}
	line, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(line), `"queued_ms":`) {
		t.Errorf("action log line %s has no queued_ms", line)
	}
}
