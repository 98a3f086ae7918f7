// Package engine turns room events into actions. It defines the event
// handling contract and the small interfaces the rest consumes: a
// Delivery from the event stream and the Result that tells the intake
// to ack, nak, terminate or give it back; the Action and its Outcome;
// the Sink that performs lock_seat calls; the Recorder (action log) and
// the dead-letter sinks. The Pipeline is the MessageHandler at the
// daemon's heart: decode, decide, execute, record, and only then ack.
// The Decider is the evaluation path (rules, then cooldowns) that the
// pipeline and the rule-test runner share.
//
// Its subpackages each do one part, and depend on this package, never
// on one another:
//
//	decode    message bytes to canonical events (JSON and Tencent callbacks)
//	executor  the rate-limited, retrying, coalescing queue in front of a Sink
//	intake    the JetStream consumer that feeds a MessageHandler
//	state     cooldowns (and later windows, labels and undos)
//	ruletest  runs rule tests (*_test.yaml) through the Decider
//
// Sinks (package sinks) implement the interfaces defined here.
package engine
