package state

import "time"

// Sweep forgets what has expired by now: window keys whose every entry
// fell out of their window, label members past their expiry, and
// moderators' overrides that ended. None of it could be read at now or
// later, so a caller whose clock only moves forward (replay, on the
// latest event time it has seen) keeps memory bounded by what is live
// instead of by every key it ever saw. Cooldowns sweep themselves. It
// returns how many window keys, label members and overrides it still
// holds, so the caller can pace the next sweep.
func (m *Memory) Sweep(now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, s := range m.windows {
		if s.entries = live(s.entries, now, s.span); len(s.entries) == 0 {
			delete(m.windows, k)
		}
	}
	for bucket, members := range m.labels {
		for member, exp := range members {
			if !exp.IsZero() && !now.Before(exp) {
				delete(members, member)
			}
		}
		if len(members) == 0 {
			delete(m.labels, bucket)
		}
	}
	for f, until := range m.overrides {
		if !now.Before(until) {
			delete(m.overrides, f)
		}
	}
	return m.keys()
}

// Keys returns how many window keys, label members and overrides the
// store holds, expired ones not yet swept included.
func (m *Memory) Keys() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys()
}

func (m *Memory) keys() int {
	n := len(m.windows) + len(m.overrides)
	for _, members := range m.labels {
		n += len(members)
	}
	return n
}
