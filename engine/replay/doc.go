// Package replay runs a stream's history through rules before they go
// live: it reads the events the daemon's stream holds through an
// ordered consumer (never the daemon's durable), decodes them with the
// daemon's decoder, and decides each on its own time in an offline
// world (package offline) that starts empty and sends nothing. It
// counts, per rule, what the rules matched, would have done and held
// back; beside a baseline rule set, which events act in one set and not
// the other; and against labelled events, each rule's precision and
// recall. It is what `roomwarden replay` runs.
package replay
