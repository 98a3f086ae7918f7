package state

import (
	"context"
	"errors"
	"time"
)

// Store is everything roomwarden remembers between events. The
// JetStream implementation (package jsstate) keeps it across restarts
// and shares it between replicas; Memory keeps it in process for rule
// tests, replay and explain. Both pass the same conformance tests
// (package statetest).
//
// Every method that reaches the store may fail with an error wrapping
// ErrUnavailable: the store could not be reached, and the caller must not
// act as if it had an answer (the pipeline gives the event back for
// redelivery instead).
type Store interface {
	Cooldowns
	Windows
	Labels
	Seats
	Budgets
}

// ErrUnavailable wraps every error that means the store could not be
// reached (as opposed to a bad argument).
var ErrUnavailable = errors.New("state store unavailable")

// Cooldowns let a rule act once per key and period.
type Cooldowns interface {
	// Acquire starts a cooldown of key for d at now, unless one is
	// running. It reports whether the caller may act: true if it started
	// the cooldown, or if the running one was started by the same origin
	// (a redelivery of the same stored message, whose outcome may not have
	// been recorded). A cooldown started by another origin is not extended.
	Acquire(ctx context.Context, key, origin string, now time.Time, d time.Duration) (bool, error)
	// CoolingUntil returns when key's running cooldown ends, or the zero
	// time if none runs at now. It changes nothing (explain).
	CoolingUntil(ctx context.Context, key string, now time.Time) (time.Time, error)
}

// Feed is one event recorded in one window at one key.
type Feed struct {
	Window  string        // the window's name
	Key     string        // the rendered key: what is counted
	EventID string        // an event is recorded at most once per window and key
	Value   string        // the rendered distinct value; "" when the window counts events
	Span    time.Duration // the window's length
	At      time.Time     // when: the evaluation time
}

// Windows count events over sliding time.
type Windows interface {
	// Feed records f unless its event is already recorded at that window
	// and key, and returns the window's count there: the events recorded
	// after At-Span, or their distinct values when the window has a
	// distinct expression (distinct true). Entries recorded with a time
	// later than At count too: another feeder may have decided a moment
	// later and written first. So the counts that feeders of one key
	// see, however they race, follow the order their writes commit in,
	// each count seen once: a threshold is crossed by exactly one feed.
	Feed(ctx context.Context, f Feed, distinct bool) (int, error)
	// Count returns the same count without recording anything.
	Count(ctx context.Context, window, key string, span time.Duration, distinct bool, at time.Time) (int, error)
}

// Labels are the members of lists kept in KV buckets: entity state with
// optional expiry, written by producers (nats kv put) and by the label
// action.
type Labels interface {
	// Members returns the current members of the list kept in bucket, as
	// of now. The result must not be modified.
	Members(ctx context.Context, bucket string, now time.Time) (map[string]struct{}, error)
	// AddMember adds member to the list in bucket, expiring after ttl
	// (0: never).
	AddMember(ctx context.Context, bucket, member string, now time.Time, ttl time.Duration) error
}

// SeatFlag names one lock flag of one seat.
type SeatFlag struct {
	RoomID string
	Index  int
	Flag   string // taken, video or audio
}

// Lock is a flag roomwarden set on a seat, and until when.
type Lock struct {
	SeatFlag
	Rule    string
	EventID string
	At      time.Time // when the lock succeeded
	End     time.Time // when its undo is due; zero: no end
}

// Undo is a due end of a lock.
type Undo struct {
	Lock
}

// Seats remember what roomwarden did to seats: which flags it holds
// locked and until when, the undos that will end them, and moderators'
// overrides.
type Seats interface {
	// Locked records a successful lock. The seat flag keeps the latest end
	// of all its locks, a lock without end counting as the latest: an end
	// that becomes the latest schedules the undo at that end, replacing
	// any earlier one, and a lock without end cancels the pending undo.
	// It returns the lock as now recorded.
	Locked(ctx context.Context, l Lock) (Lock, error)
	// Held returns the lock roomwarden holds on f, if any.
	Held(ctx context.Context, f SeatFlag) (Lock, bool, error)
	// Unlocked clears the lock on f if it still ends at end (an undo has
	// run); a newer lock is left alone.
	Unlocked(ctx context.Context, f SeatFlag, end time.Time) error
	// Override records that a moderator cleared f at now. If roomwarden
	// held f locked, the lock and its pending undo are dropped, f is held
	// for the moderator until now+hold, and it reports true; otherwise it
	// changes nothing and reports false.
	Override(ctx context.Context, f SeatFlag, now time.Time, hold time.Duration) (bool, error)
	// OverriddenUntil returns until when a moderator holds f, or the zero
	// time if no override holds it at now.
	OverriddenUntil(ctx context.Context, f SeatFlag, now time.Time) (time.Time, error)
	// PendingUndos lists the locks with an end, soonest first (console).
	PendingUndos(ctx context.Context, limit int) ([]Lock, error)
	// Overrides lists the overrides in force at now (console).
	Overrides(ctx context.Context, now time.Time, limit int) ([]Override, error)
}

// Override is a seat flag held for a moderator.
type Override struct {
	SeatFlag
	Until time.Time
}

// Budgets cap how often a rule may act.
type Budgets interface {
	// Spend records one action of rule at now against its budget of max
	// actions per span. It reports false, and trips the rule, when the
	// action would exceed the budget; a tripped rule's further Spends
	// report false until Reset. rule names the rule's version (its name
	// and definition hash), so a reload that changes the rule starts
	// afresh.
	Spend(ctx context.Context, rule string, max int, per time.Duration, now time.Time) (bool, error)
	// Tripped lists the tripped rules.
	Tripped(ctx context.Context) ([]string, error)
	// Reset un-trips rule and forgets its spending.
	Reset(ctx context.Context, rule string) error
}
