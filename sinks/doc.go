// Package sinks holds the places actions go once the engine has decided
// them: the Room Engine REST client (roomengine), the action log and NATS
// publishing. Each subpackage implements a small interface defined by the
// engine package and imports nothing else from the project.
package sinks
