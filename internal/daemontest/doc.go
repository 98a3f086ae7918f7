// Package daemontest runs the whole roomwarden daemon in a test: the
// same app.New/Run as `roomwarden run`, with an embedded NATS server on a
// random loopback port, a Room Engine simulator on httptest, rules and
// the action log in t.TempDir(). End-to-end and fault tests build on it.
package daemontest
