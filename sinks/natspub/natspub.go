// Package natspub publishes roomwarden's outcomes to NATS: every action
// log line to `roomwarden.actions.<outcome>` (best effort, so
// `nats sub 'roomwarden.actions.>'` tails the log), and dead letters —
// actions whose retries ran out and events that could not be decoded — to
// a JetStream stream on `roomwarden.dlq`, durably and deduplicated.
package natspub

import (
	"strings"
	"unicode/utf8"
)

// Defaults for the subjects.
const (
	DefaultActionsPrefix = "roomwarden.actions"
	DefaultDLQSubject    = "roomwarden.dlq"
)

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
