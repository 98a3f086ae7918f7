package engine

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Action kinds, as written in the action log.
const (
	ActionLockSeat = "lock_seat"
	// ActionUnlockSeat ends a timed lock: a lock_seat call that sets the
	// lock's flags back to false. It carries the lock's rule and event id.
	ActionUnlockSeat = "unlock_seat"
	// ActionLabel adds a member to a KV-backed list; no Room Engine call.
	ActionLabel = "label"
)

// Action is one rendered action ready to run.
type Action struct {
	Rule    string
	EventID string
	Kind    string   // ActionLockSeat, ActionUnlockSeat or ActionLabel
	Params  LockSeat // lock_seat and unlock_seat
	Label   Label    // label
	// For is how long a lock_seat lasts before its undo (0: no end), or
	// how long a label lasts (0: no expiry).
	For    time.Duration
	DryRun bool // the rule or the config asks to render, not send
	// Decided is when the rules decided the action; an outcome's
	// latency is measured from it. Zero: when it was submitted.
	Decided time.Time
	// Still, if set, is asked right before every call of the action to
	// the Room Engine: the first and each retry. False means the action
	// is no longer wanted: it ends unsent, and its done func is given
	// ErrNotWanted. An error sends nothing that time: the call is tried
	// again after the backoff, without spending an attempt. The undoer
	// sets it, so that an unlock retried after a newer lock of its seat
	// flag does not end that lock; rules' actions leave it nil.
	Still func(ctx context.Context) (bool, error)
}

// ErrNotWanted is given to an action's done func when its Still hook
// said, before a call, that it is no longer wanted: it reached no
// terminal outcome, and nothing was sent since that answer.
var ErrNotWanted = errors.New("action no longer wanted")

// Label is the parameters of a label action: the member to add to the
// list kept in a KV bucket.
type Label struct {
	List   string `json:"list"`
	Bucket string `json:"bucket"`
	Member string `json:"member"`
}

// Seat reports whether the action is a Room Engine seat call.
func (a Action) Seat() bool { return a.Kind != ActionLabel }

// OutcomeKind is an action's terminal outcome.
type OutcomeKind string

// The terminal outcomes, as written in the action log.
const (
	Succeeded    OutcomeKind = "succeeded"
	Failed       OutcomeKind = "failed"        // permanent error, not retried
	DeadLettered OutcomeKind = "dead_lettered" // retries exhausted
	Suppressed   OutcomeKind = "suppressed"    // cooldown
	DryRun       OutcomeKind = "dry_run"
	Overridden   OutcomeKind = "overridden" // a moderator's override holds the seat flag
	Tripped      OutcomeKind = "tripped"    // the rule exceeded its budget
	Shadow       OutcomeKind = "shadow"     // a shadow rule: never sent
)

// Outcome is one terminal outcome of one action: a line of the action
// log. Its "params" are the LockSeat of seat actions and the Label of
// label actions.
type Outcome struct {
	Time      time.Time   `json:"time"`
	Rule      string      `json:"rule"`
	EventID   string      `json:"event_id"`
	Action    string      `json:"action"`
	Params    LockSeat    `json:"-"`
	Label     Label       `json:"-"`
	For       string      `json:"for,omitempty"` // a timed lock's or label's duration
	Outcome   OutcomeKind `json:"outcome"`
	Attempts  int         `json:"attempts"`
	ErrorCode int         `json:"error_code,omitempty"`
	ErrorInfo string      `json:"error_info,omitempty"`
	RequestID string      `json:"request_id,omitempty"`
	// LatencyMS is from the decision to the outcome; QueuedMS the part
	// of it spent waiting for the first call (queue, rate limiter).
	LatencyMS float64 `json:"latency_ms"`
	QueuedMS  float64 `json:"queued_ms,omitempty"`
	// Request is, for dry runs, the request that would have been sent
	// (usersig redacted).
	Request string `json:"request,omitempty"`
}

// outcomeLine is an action log line: Outcome's fields in the order ops
// read them, with the action's parameters as params.
type outcomeLine struct {
	Time      time.Time       `json:"time"`
	Rule      string          `json:"rule"`
	EventID   string          `json:"event_id"`
	Action    string          `json:"action"`
	Params    json.RawMessage `json:"params"`
	For       string          `json:"for,omitempty"`
	Outcome   OutcomeKind     `json:"outcome"`
	Attempts  int             `json:"attempts"`
	ErrorCode int             `json:"error_code,omitempty"`
	ErrorInfo string          `json:"error_info,omitempty"`
	RequestID string          `json:"request_id,omitempty"`
	LatencyMS float64         `json:"latency_ms"`
	QueuedMS  float64         `json:"queued_ms,omitempty"`
	Request   string          `json:"request,omitempty"`
}

// MarshalJSON writes the outcome as an action log line.
func (o Outcome) MarshalJSON() ([]byte, error) {
	var params any = o.Params
	if o.Action == ActionLabel {
		params = o.Label
	}
	p, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	return json.Marshal(outcomeLine{Time: o.Time, Rule: o.Rule, EventID: o.EventID, Action: o.Action, Params: p,
		For: o.For, Outcome: o.Outcome, Attempts: o.Attempts, ErrorCode: o.ErrorCode, ErrorInfo: o.ErrorInfo,
		RequestID: o.RequestID, LatencyMS: o.LatencyMS, QueuedMS: o.QueuedMS, Request: o.Request})
}

// UnmarshalJSON reads an action log line.
func (o *Outcome) UnmarshalJSON(b []byte) error {
	var l outcomeLine
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*o = Outcome{Time: l.Time, Rule: l.Rule, EventID: l.EventID, Action: l.Action, For: l.For, Outcome: l.Outcome,
		Attempts: l.Attempts, ErrorCode: l.ErrorCode, ErrorInfo: l.ErrorInfo, RequestID: l.RequestID,
		LatencyMS: l.LatencyMS, QueuedMS: l.QueuedMS, Request: l.Request}
	if len(l.Params) == 0 || string(l.Params) == "null" {
		return nil
	}
	if o.Action == ActionLabel {
		return json.Unmarshal(l.Params, &o.Label)
	}
	return json.Unmarshal(l.Params, &o.Params)
}

// Receipt is what a successful call returns.
type Receipt struct {
	RequestID string
	Request   string // dry-run sinks: the rendered request, usersig redacted
}

// Sink performs lock_seat calls. Failures should be *CallError so the
// executor can tell whether to retry.
type Sink interface {
	LockSeat(ctx context.Context, p LockSeat) (Receipt, error)
}

// DeadLetterSink receives actions whose retries are exhausted.
type DeadLetterSink interface {
	DeadLetter(ctx context.Context, o Outcome) error
}

// Recorder writes terminal outcomes to the action log. An error means the
// outcome was not recorded; the caller must not acknowledge the event.
type Recorder interface {
	Record(o Outcome) error
}
