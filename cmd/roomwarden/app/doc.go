// Package app is the roomwarden daemon's process logic, kept out of
// package main so tests can embed the whole daemon: it loads and checks
// the config file, starts the embedded NATS server or connects to an
// external one, and wires rules, engine and sinks into the running
// daemon through New / Run / Reload / Close.
package app
