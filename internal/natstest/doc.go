// Package natstest runs real nats-server instances in process for tests:
// JetStream on, bound to 127.0.0.1 on a random port, stored in a test's
// temporary directory and shut down when the test ends. It also restarts
// a server on the same port and store (to test reconnects) and generates
// throwaway TLS certificates for loopback.
package natstest
