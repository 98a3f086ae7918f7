package engine

import (
	"context"
	"time"
)

// ActionLockSeat is the only action kind today.
const ActionLockSeat = "lock_seat"

// Action is one rendered action ready for the executor.
type Action struct {
	Rule    string
	EventID string
	Kind    string // ActionLockSeat
	Params  LockSeat
	DryRun  bool // the rule or the config asks to render, not send
	// Decided is when the rules decided the action; an outcome's
	// latency is measured from it. Zero: when it was submitted.
	Decided time.Time
}

// OutcomeKind is an action's terminal outcome.
type OutcomeKind string

// The terminal outcomes, as written in the action log.
const (
	Succeeded    OutcomeKind = "succeeded"
	Failed       OutcomeKind = "failed"        // permanent error, not retried
	DeadLettered OutcomeKind = "dead_lettered" // retries exhausted
	Suppressed   OutcomeKind = "suppressed"    // cooldown
	DryRun       OutcomeKind = "dry_run"
)

// Outcome is one terminal outcome of one action: a line of the action log.
type Outcome struct {
	Time      time.Time   `json:"time"`
	Rule      string      `json:"rule"`
	EventID   string      `json:"event_id"`
	Action    string      `json:"action"`
	Params    LockSeat    `json:"params"`
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
