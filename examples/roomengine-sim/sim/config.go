package sim

import (
	"errors"
	"log/slog"
	"time"
)

// Defaults.
const (
	DefaultLimit    = 200 // calls per rolling second, the API's maximum
	DefaultMaxCalls = 100_000
	// DefaultAdmin is the App administrator a strict simulator accepts
	// when Config.Admins is empty: the daemon's default identifier.
	DefaultAdmin = "administrator"
	// DefaultSeats is the seat count of a room created without one.
	DefaultSeats = 16
)

// Config configures a Server.
type Config struct {
	// SecretKey and SDKAppID are the app's; UserSigs must verify against
	// them.
	SecretKey []byte
	SDKAppID  uint64
	// Admins are the App administrator identifiers allowed to call
	// (60010 for others). Empty means DefaultAdmin alone.
	Admins []string
	// Lenient accepts what the real API refuses, for load runs that only
	// need answers: body field names in any case, unknown and repeated
	// fields, any identifier with a valid UserSig, and rooms that appear
	// on first use with any seat index. The zero value is strict, like the
	// real API: exact field names, administrators only, and rooms created
	// first (AddRoom or POST /rooms/{id}) whose seats bound Index
	// (100004, 100211 and 100002 otherwise).
	Lenient bool
	// Limit is the most calls accepted in any rolling second; beyond it
	// the answer is 60007. Zero means DefaultLimit, negative no limit.
	Limit int
	// MaxCalls bounds the call record; the oldest half is dropped when it
	// is exceeded. Zero means DefaultMaxCalls.
	MaxCalls int
	// Seed seeds fault sampling and request ids; zero picks a random seed.
	Seed uint64
	// Logger receives one line per call. Nil discards.
	Logger *slog.Logger
	// Now is the clock for arrival times, the rate limit and UserSig
	// expiry. Nil is time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() (Config, error) {
	if len(c.SecretKey) == 0 {
		return c, errors.New("sim: secret key is empty")
	}
	if c.SDKAppID == 0 {
		return c, errors.New("sim: sdkappid is not set")
	}
	if c.Limit == 0 {
		c.Limit = DefaultLimit
	}
	if len(c.Admins) == 0 {
		c.Admins = []string{DefaultAdmin}
	}
	if c.MaxCalls <= 0 {
		c.MaxCalls = DefaultMaxCalls
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
