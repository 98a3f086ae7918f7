// Package engine turns room events into actions: it decodes events,
// evaluates them against the loaded rules, and runs the resulting actions
// through a rate-limited, retrying executor. Sinks implement the small
// interfaces defined here.
package engine
