package replicas

import (
	"slices"
	"time"
)

// Timing of the heartbeats and of the transitions (see the package
// comment).
const (
	beatEvery  = time.Second
	keyTTL     = 3 * time.Second
	staleAfter = keyTTL - time.Second
)

// view is one replica's picture of the membership and the share it
// implies, as of the times its callers pass; it does no I/O, so its
// rules can be tested on any clock. Not safe for concurrent use.
type view struct {
	self   string
	rate   int           // this replica's rate_per_second
	window time.Duration // the executor's rolling window

	others  map[string]int       // other replicas whose keys are live: their rates
	leaving map[string]leaver    // replicas whose keys went, counted until then
	sent    map[uint64]time.Time // our beats not yet seen back, by sequence
	echoed  uint64               // our latest beat seen back

	fresh     time.Time // when our latest beat seen back was sent; zero: none
	visible   bool      // our key is seen, in a stretch of fresh echoes
	appearing bool      // our key came back; visible once the initial values are in
	holdUntil time.Time // joining: no calls before

	syncing map[string]bool // keys of a watch's initial values, until they are all in
}

// leaver is a replica counted until its calls have left the window.
type leaver struct {
	rate  int
	until time.Time
}

func newView(self string, rate int, window time.Duration) *view {
	return &view{self: self, rate: rate, window: window,
		others: map[string]int{}, leaving: map[string]leaver{}, sent: map[uint64]time.Time{}}
}

// holdFor is how long a joining replica that counts others calls nothing.
func (v *view) holdFor() time.Duration { return staleAfter + v.window }

// beat notes that our beat seq was sent at at.
func (v *view) beat(seq uint64, at time.Time) {
	v.sent[seq] = at
	for s, t := range v.sent {
		if at.Sub(t) > staleAfter { // its echo could not make us fresh
			delete(v.sent, s)
		}
	}
}

// isFresh reports whether a beat sent within staleAfter of now has come
// back.
func (v *view) isFresh(now time.Time) bool {
	return !v.fresh.IsZero() && now.Sub(v.fresh) <= staleAfter
}

// put notes a live key: another replica's heartbeat (rate: its budget),
// or ours coming back (seq: its sequence).
func (v *view) put(key string, rate int, seq uint64, now time.Time) {
	if v.syncing != nil {
		v.syncing[key] = true
	}
	if key != v.self {
		v.others[key] = rate
		delete(v.leaving, key)
		return
	}
	v.echoed = max(v.echoed, seq)
	sent, ok := v.sent[seq]
	if !ok {
		return // a beat we no longer wait for (or a previous process's)
	}
	delete(v.sent, seq)
	if !v.visible || !v.isFresh(now) {
		// Visible for the first time, or again after a silence: the
		// others may count us only from now on.
		v.visible, v.appearing = false, true
	}
	if sent.After(v.fresh) {
		v.fresh = sent
	}
	if v.appearing && v.syncing == nil {
		v.appear(now)
	}
}

// appear makes us visible at now, holding if anyone else is counted.
// During a watch's initial values it waits for their end: the others'
// keys, renewed after ours, come after it.
func (v *view) appear(now time.Time) {
	v.visible, v.appearing = true, false
	v.holdUntil = time.Time{}
	if v.counted(now) > 1 {
		v.holdUntil = now.Add(v.holdFor())
	}
}

// gone notes that key was deleted, purged or expired.
func (v *view) gone(key string, now time.Time) {
	if key == v.self {
		// The others stop counting us: come back as a joiner.
		v.visible, v.appearing = false, false
		return
	}
	rate, ok := v.others[key]
	if !ok {
		return
	}
	delete(v.others, key)
	v.leaving[key] = leaver{rate: rate, until: now.Add(v.window)}
}

// startSync begins a watch's initial values: keys not among them by
// endSync are gone.
func (v *view) startSync() { v.syncing = map[string]bool{} }

// endSync ends the initial values at now.
func (v *view) endSync(now time.Time) {
	seen := v.syncing
	v.syncing = nil
	if seen == nil {
		return
	}
	for key := range v.others {
		if !seen[key] {
			v.gone(key, now)
		}
	}
	if !seen[v.self] {
		v.gone(v.self, now)
	}
	if v.appearing {
		v.appear(now)
	}
}

// counted returns how many replicas the share is computed over at now:
// this one, the live others and the leavers still counted.
func (v *view) counted(now time.Time) int {
	n := 1 + len(v.others)
	for _, l := range v.leaving {
		if now.Before(l.until) {
			n++
		}
	}
	return n
}

// share returns this replica's calls per window at now, how many
// replicas it counts, and its state: "active", "joining" (holding) or
// "cut off" (no fresh echo).
func (v *view) share(now time.Time) (share, n int, state string) {
	for key, l := range v.leaving {
		if !now.Before(l.until) {
			delete(v.leaving, key)
		}
	}
	n = v.counted(now)
	switch {
	case !v.visible || !v.isFresh(now):
		return 0, n, "cut off"
	case now.Before(v.holdUntil):
		return 0, n, "joining"
	}
	rate := v.rate
	ids := []string{v.self}
	for key, r := range v.others {
		rate, ids = min(rate, r), append(ids, key)
	}
	for key, l := range v.leaving {
		rate, ids = min(rate, l.rate), append(ids, key)
	}
	slices.Sort(ids)
	share = rate / n
	if rank := slices.Index(ids, v.self); rank < rate%n {
		share++
	}
	return share, n, "active"
}

// next returns when share may next change without news from the watch:
// the end of our freshness, of a hold or of a leaver's count. Zero if
// nothing is pending.
func (v *view) next(now time.Time) time.Time {
	var at time.Time
	consider := func(t time.Time) {
		if t.After(now) && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	if !v.fresh.IsZero() {
		consider(v.fresh.Add(staleAfter + time.Nanosecond))
	}
	consider(v.holdUntil)
	for _, l := range v.leaving {
		consider(l.until)
	}
	return at
}
