// Package intake reads room events from a JetStream durable pull
// consumer and hands each message to an engine.MessageHandler (the
// pipeline) on a bounded pool of workers. It keeps slow messages alive
// with InProgress, applies the handler's verdict (ack in batches, nak
// with delay, term, or give back at shutdown), dead-letters messages
// that exhaust their deliveries, and recreates the stream and consumer
// when they disappear. It is the only part of the engine that speaks
// NATS.
package intake
