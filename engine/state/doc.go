// Package state holds what roomwarden remembers between events: today
// the cooldowns of rules, kept per rule and rendered key. The engine's
// Decider consults it; it lives apart from the rules so that reloads
// keep it, and apart from the pipeline so that rule tests run the same
// logic on their own, fresh state.
package state
