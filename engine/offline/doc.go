// Package offline decides events exactly as the daemon does, in a world
// of its own: state (cooldowns, windows, labels, seat locks, overrides,
// budgets) in memory on the caller's clock, and a Room Engine that
// accepts every call at once. An action that would run succeeds: its
// lock is held (and undone when the clock passes its end), its label is
// added, and it is counted in the windows of roomwarden's own actions.
// Nothing leaves the process. `roomwarden test` runs rule tests on it
// with a simulated clock, and `roomwarden replay` runs a stream's history
// through it on the events' own times.
package offline
