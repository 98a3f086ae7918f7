package engine

import (
	"errors"
	"fmt"
)

// ErrorClass tells the executor what to do with a failed call.
type ErrorClass int

// Error classes.
const (
	Permanent ErrorClass = iota // do not retry
	Retryable                   // retry with backoff
	Throttled                   // retry, and slow the limiter down
	// Local: the call never left this machine for want of a local
	// resource (no file descriptor for a socket, say). It is retried
	// with backoff without spending an attempt: the shortage says
	// nothing about the action, and dead-lettering it would lose it.
	Local
)

func (c ErrorClass) String() string {
	switch c {
	case Retryable:
		return "retryable"
	case Throttled:
		return "throttled"
	case Local:
		return "local"
	}
	return "permanent"
}

// CallError is a failed Room Engine call. Code is the API's ErrorCode
// (0 for transport and HTTP errors), Status the HTTP status (0 when none
// was received). Messages never contain the usersig.
type CallError struct {
	Code      int
	Info      string
	RequestID string
	Status    int
	Class     ErrorClass
	Err       error // underlying transport error, if any
}

func (e *CallError) Error() string {
	switch {
	case e.Code != 0:
		return fmt.Sprintf("room engine error %d: %s (request %s)", e.Code, e.Info, e.RequestID)
	case e.Status != 0:
		return fmt.Sprintf("room engine http %d: %s", e.Status, e.Info)
	case e.Err != nil:
		return fmt.Sprintf("room engine call: %v", e.Err)
	}
	return "room engine call failed: " + e.Info
}

func (e *CallError) Unwrap() error { return e.Err }

// ClassOf returns the class of err: a *CallError's class, Permanent for
// any other error.
func ClassOf(err error) ErrorClass {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Class
	}
	return Permanent
}
