package engine

import (
	"context"
	"time"
)

// Delivery is one JetStream message handed from the intake to a handler.
type Delivery struct {
	Subject      string
	Data         []byte
	StreamSeq    uint64
	NumDelivered uint64
	MsgID        string    // the Nats-Msg-Id header, if any
	Published    time.Time // the stream's timestamp for the message
}

// Verdict is what the intake must do with a delivery once handled.
type Verdict int

// Verdicts.
const (
	Ack   Verdict = iota // every action reached a terminal outcome
	Nak                  // redeliver after Result.Delay
	Term                 // malformed: never redeliver (already dead-lettered)
	Leave                // not handled (shutdown): given back at once for redelivery
)

func (v Verdict) String() string {
	switch v {
	case Ack:
		return "ack"
	case Nak:
		return "nak"
	case Term:
		return "term"
	}
	return "leave"
}

// Result is a handler's decision for one delivery.
type Result struct {
	Verdict Verdict
	Delay   time.Duration // for Nak
	Reason  string        // for Term and Nak, for logs
	// Wait, when set, means the decision is not made yet: the handler has
	// started work (actions in the executor) that will finish later. The
	// intake frees its worker, keeps the message alive, and applies the
	// Result that Wait returns; Verdict is then ignored. Wait must return
	// promptly once ctx is cancelled.
	Wait func(ctx context.Context) Result
}

// MessageHandler handles one delivery. The intake calls it outside the
// NATS callback, keeps the message alive with InProgress while it runs,
// and applies the Result. ctx is cancelled on hard shutdown.
type MessageHandler interface {
	HandleMessage(ctx context.Context, d Delivery) Result
}

// Malformed is an event that could not be decoded.
type Malformed struct {
	Subject   string
	StreamSeq uint64
	Reason    string
	Data      []byte
}

// EventDeadLetterSink receives malformed events.
type EventDeadLetterSink interface {
	DeadLetterEvent(ctx context.Context, m Malformed) error
}
