// Package natspub publishes roomwarden's outcomes to NATS: every action
// log line to `roomwarden.actions.<outcome>` (best effort, so
// `nats sub 'roomwarden.actions.>'` tails the log), and dead letters —
// actions whose retries ran out and events that could not be decoded — to
// a JetStream stream on `roomwarden.dlq`, durably and deduplicated.
package natspub

import (
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for the subjects.
const (
	DefaultActionsPrefix = "roomwarden.actions"
	DefaultDLQSubject    = "roomwarden.dlq"
)

// Option configures NewActions and NewDeadLetter.
type Option func(*options)

type options struct {
	log       *slog.Logger
	reg       prometheus.Registerer
	queueSize int
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithRegisterer registers the metrics on reg (default: unregistered).
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// WithQueueSize sets how many outcomes Actions buffers while NATS is slow
// before it drops them (default 4096).
func WithQueueSize(n int) Option { return func(o *options) { o.queueSize = n } }

func buildOptions(opts []Option) options {
	o := options{log: slog.New(slog.DiscardHandler), queueSize: 4096}
	for _, opt := range opts {
		opt(&o)
	}
	if o.queueSize < 1 {
		o.queueSize = 1
	}
	return o
}

// headerValue makes s safe for a NATS header: no control characters
// (a newline would end the header), at most limit bytes.
func headerValue(s string, limit int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
