package state

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// Memory is a Store held in process memory, on the times its callers
// pass in: `roomwarden test` runs it on the simulated clock, `replay` on
// the events' own times, `explain` on a copy of nothing. It never fails.
// Safe for concurrent use.
type Memory struct {
	cooldowns *CooldownTable

	mu      sync.Mutex
	windows map[windowKey]*windowSeries
	labels  map[string]map[string]time.Time // bucket → member → expiry (zero: none)
	locks   map[SeatFlag]Lock
	// firstEnd is no later than the earliest end of the locks (zero: no
	// lock has an end), so Due answers at once until the clock reaches
	// it; a lock that goes away can leave it early, and Due then finds
	// the true one.
	firstEnd  time.Time
	overrides map[SeatFlag]time.Time
	spends    map[string][]time.Time
	tripped   map[string]bool
}

var _ Store = (*Memory)(nil)

type windowKey struct{ window, key string }

// windowSeries is what one window holds at one key: its entries, and the
// window's length, so that Sweep can tell when they have all expired.
type windowSeries struct {
	span    time.Duration
	entries []windowEntry
}

type windowEntry struct {
	event string
	value string
	at    time.Time
}

// NewMemory returns an empty Memory whose cooldowns hold at most
// maxCooldowns keys (DefaultCooldownKeys when <= 0).
func NewMemory(maxCooldowns int) *Memory {
	return &Memory{
		cooldowns: NewCooldownTable(maxCooldowns),
		windows:   make(map[windowKey]*windowSeries),
		labels:    make(map[string]map[string]time.Time),
		locks:     make(map[SeatFlag]Lock),
		overrides: make(map[SeatFlag]time.Time),
		spends:    make(map[string][]time.Time),
		tripped:   make(map[string]bool),
	}
}

// CooldownTable returns the cooldowns' table, for its size metrics.
func (m *Memory) CooldownTable() *CooldownTable { return m.cooldowns }

// Acquire implements Cooldowns.
func (m *Memory) Acquire(_ context.Context, key, origin string, now time.Time, d time.Duration) (bool, error) {
	return m.cooldowns.AllowEvent("", key, origin, now, d), nil
}

// CoolingUntil implements Cooldowns.
func (m *Memory) CoolingUntil(_ context.Context, key string, now time.Time) (time.Time, error) {
	return m.cooldowns.Until("", key, now), nil
}

// Feed implements Windows.
func (m *Memory) Feed(_ context.Context, f Feed, distinct bool) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := windowKey{f.Window, f.Key}
	s := m.windows[k]
	if s == nil {
		s = &windowSeries{}
		m.windows[k] = s
	}
	s.span = f.Span
	s.entries = live(s.entries, f.At, f.Span)
	if !slices.ContainsFunc(s.entries, func(e windowEntry) bool { return e.event == f.EventID }) {
		s.entries = append(s.entries, windowEntry{event: f.EventID, value: f.Value, at: f.At})
	}
	return count(s.entries, distinct), nil
}

// Count implements Windows.
func (m *Memory) Count(_ context.Context, window, key string, span time.Duration, distinct bool, at time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.windows[windowKey{window, key}]
	if s == nil {
		return 0, nil
	}
	s.entries = live(s.entries, at, span)
	return count(s.entries, distinct), nil
}

// live drops the entries that fell out of the window (at-span, at]; an
// entry recorded later than at (a replayed earlier event) is kept.
func live(entries []windowEntry, at time.Time, span time.Duration) []windowEntry {
	return slices.DeleteFunc(entries, func(e windowEntry) bool { return !e.at.After(at.Add(-span)) })
}

// count counts the live entries: events, or distinct values. Entries
// later than the caller's time count too (see Windows.Feed).
func count(entries []windowEntry, distinct bool) int {
	seen := make(map[string]bool)
	n := 0
	for _, e := range entries {
		if distinct {
			if seen[e.value] {
				continue
			}
			seen[e.value] = true
		}
		n++
	}
	return n
}

// Members implements Labels.
func (m *Memory) Members(_ context.Context, bucket string, now time.Time) (map[string]struct{}, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]struct{})
	for member, exp := range m.labels[bucket] {
		if exp.IsZero() || now.Before(exp) {
			out[member] = struct{}{}
		}
	}
	return out, nil
}

// AddMember implements Labels.
func (m *Memory) AddMember(_ context.Context, bucket, member string, now time.Time, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.labels[bucket] == nil {
		m.labels[bucket] = make(map[string]time.Time)
	}
	var exp time.Time
	if ttl > 0 {
		exp = now.Add(ttl)
	}
	m.labels[bucket][member] = exp
	return nil
}

// Locked implements Seats.
func (m *Memory) Locked(_ context.Context, l Lock) (Lock, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.locks[l.SeatFlag]; ok && !laterEnd(l.End, old.End) {
		return old, nil
	}
	m.locks[l.SeatFlag] = l
	if !l.End.IsZero() && (m.firstEnd.IsZero() || l.End.Before(m.firstEnd)) {
		m.firstEnd = l.End
	}
	return l, nil
}

// laterEnd reports whether end a outlasts b; the zero time (no end)
// outlasts every end.
func laterEnd(a, b time.Time) bool {
	switch {
	case a.IsZero():
		return true
	case b.IsZero():
		return false
	}
	return !a.Before(b)
}

// Held implements Seats.
func (m *Memory) Held(_ context.Context, f SeatFlag) (Lock, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.locks[f]
	return l, ok, nil
}

// Unlocked implements Seats.
func (m *Memory) Unlocked(_ context.Context, f SeatFlag, end time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.locks[f]; ok && l.End.Equal(end) {
		delete(m.locks, f)
	}
	return nil
}

// Override implements Seats.
func (m *Memory) Override(_ context.Context, f SeatFlag, now time.Time, hold time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.locks[f]; !ok {
		return false, nil
	}
	delete(m.locks, f)
	m.overrides[f] = now.Add(hold)
	return true, nil
}

// OverriddenUntil implements Seats.
func (m *Memory) OverriddenUntil(_ context.Context, f SeatFlag, now time.Time) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if until, ok := m.overrides[f]; ok && now.Before(until) {
		return until, nil
	}
	return time.Time{}, nil
}

// PendingUndos implements Seats.
func (m *Memory) PendingUndos(_ context.Context, limit int) ([]Lock, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Lock
	for _, l := range m.locks {
		if !l.End.IsZero() {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b Lock) int { return a.End.Compare(b.End) })
	return out[:min(len(out), limit)], nil
}

// Due returns the locks whose end has come by now, soonest first: the
// undos a simulated clock has reached. They stay held until Unlocked.
func (m *Memory) Due(now time.Time) []Undo {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.firstEnd.IsZero() || m.firstEnd.After(now) {
		return nil
	}
	var out []Undo
	m.firstEnd = time.Time{}
	for _, l := range m.locks {
		if l.End.IsZero() {
			continue
		}
		if !l.End.After(now) {
			out = append(out, Undo{Lock: l})
		}
		if m.firstEnd.IsZero() || l.End.Before(m.firstEnd) {
			m.firstEnd = l.End
		}
	}
	slices.SortFunc(out, func(a, b Undo) int {
		return cmp.Or(a.End.Compare(b.End), cmp.Compare(a.RoomID, b.RoomID), cmp.Compare(a.Index, b.Index),
			cmp.Compare(a.Flag, b.Flag))
	})
	return out
}

// Overrides implements Seats.
func (m *Memory) Overrides(_ context.Context, now time.Time, limit int) ([]Override, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Override
	for f, until := range m.overrides {
		if now.Before(until) {
			out = append(out, Override{SeatFlag: f, Until: until})
		}
	}
	slices.SortFunc(out, func(a, b Override) int { return a.Until.Compare(b.Until) })
	return out[:min(len(out), limit)], nil
}

// Spend implements Budgets.
func (m *Memory) Spend(_ context.Context, rule string, max int, per time.Duration, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tripped[rule] {
		return false, nil
	}
	spent := slices.DeleteFunc(m.spends[rule], func(t time.Time) bool { return !t.After(now.Add(-per)) })
	if len(spent) >= max {
		m.tripped[rule] = true
		m.spends[rule] = spent
		return false, nil
	}
	m.spends[rule] = append(spent, now)
	return true, nil
}

// Tripped implements Budgets.
func (m *Memory) Tripped(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for r := range m.tripped {
		out = append(out, r)
	}
	slices.Sort(out)
	return out, nil
}

// Reset implements Budgets.
func (m *Memory) Reset(_ context.Context, rule string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.tripped, rule)
	delete(m.spends, rule)
	return nil
}
