package jsstate

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
)

// lockRecord is the value of lock.<seat> and the body of its undo.
type lockRecord struct {
	RoomID  string    `json:"room_id"`
	Index   int       `json:"index"`
	Flag    string    `json:"flag"`
	Rule    string    `json:"rule,omitempty"`
	EventID string    `json:"event_id,omitempty"`
	At      time.Time `json:"at"`
	End     time.Time `json:"end,omitzero"`
}

// overrideRecord is the value of ovr.<seat>.
type overrideRecord struct {
	RoomID string    `json:"room_id"`
	Index  int       `json:"index"`
	Flag   string    `json:"flag"`
	Until  time.Time `json:"until"`
}

func toRecord(l state.Lock) lockRecord {
	return lockRecord{RoomID: l.RoomID, Index: l.Index, Flag: l.Flag, Rule: l.Rule, EventID: l.EventID, At: l.At, End: l.End}
}

func (r lockRecord) lock() state.Lock {
	return state.Lock{SeatFlag: state.SeatFlag{RoomID: r.RoomID, Index: r.Index, Flag: r.Flag},
		Rule: r.Rule, EventID: r.EventID, At: r.At, End: r.End}
}

func decodeLock(val []byte) (state.Lock, error) {
	var r lockRecord
	if err := json.Unmarshal(val, &r); err != nil {
		return state.Lock{}, fmt.Errorf("lock record: %w", err)
	}
	return r.lock(), nil
}

// seatToken names a seat flag in keys (lock.<token>, ovr.<token>) and
// undo subjects.
func seatToken(f state.SeatFlag) string { return hashHex(f.RoomID, strconv.Itoa(f.Index), f.Flag) }

// Locked implements state.Seats. The seat flag's record keeps the
// latest end (compare-and-swap); when the record changes, the undo is
// scheduled at the new end (replacing the seat flag's schedule), or
// cancelled for a lock without end, before the record is written: a
// crash between leaves a schedule that RunUndos finds stale, never a
// timed lock without its undo.
func (s *Store) Locked(ctx context.Context, l state.Lock) (got state.Lock, err error) {
	ctx, end := s.begin(ctx, "locked")
	defer func() { err = end(err) }()
	val, err := json.Marshal(toRecord(l))
	if err != nil {
		return state.Lock{}, err
	}
	token := seatToken(l.SeatFlag)
	err = s.update(ctx, "locked", "lock."+token, readFirst, nil, func(cur record, _ bool) (change, error) {
		if cur.val != nil {
			old, err := decodeLock(cur.val)
			if err != nil {
				return change{}, err
			}
			if !laterEnd(l.End, old.End) {
				got = old
				return change{}, nil
			}
		}
		got = l
		if err := s.setUndo(ctx, token, l); err != nil {
			return change{}, err
		}
		return change{write: true, val: val, ttl: s.lockTTL(l)}, nil
	})
	return got, err
}

// lockTTL is how long a lock record is kept: LockMemory past its end, so
// an undo that falls due while no daemon runs still finds it, or
// LockMemory from the lock for a lock without end (after which a
// moderator clearing the flag is no longer told apart from anyone).
func (s *Store) lockTTL(l state.Lock) time.Duration {
	from := l.End
	if from.IsZero() {
		from = l.At
	}
	return keyTTL(l.At, from.Add(s.cfg.LockMemory))
}

// laterEnd reports whether end a outlasts b; the zero time (no end)
// outlasts every end (as state.Memory).
func laterEnd(a, b time.Time) bool {
	switch {
	case a.IsZero():
		return true
	case b.IsZero():
		return false
	}
	return !a.Before(b)
}

// Held implements state.Seats.
func (s *Store) Held(ctx context.Context, f state.SeatFlag) (l state.Lock, ok bool, err error) {
	ctx, end := s.begin(ctx, "held")
	defer func() { err = end(err) }()
	return s.held(ctx, seatToken(f))
}

func (s *Store) held(ctx context.Context, token string) (state.Lock, bool, error) {
	cur, err := s.kv.get(ctx, "lock."+token)
	if err != nil || cur.val == nil {
		return state.Lock{}, false, err
	}
	l, err := decodeLock(cur.val)
	return l, err == nil, err
}

// Unlocked implements state.Seats: the record is deleted on the
// condition that it is the revision whose end was read.
func (s *Store) Unlocked(ctx context.Context, f state.SeatFlag, endAt time.Time) (err error) {
	ctx, end := s.begin(ctx, "unlocked")
	defer func() { err = end(err) }()
	return s.unlocked(ctx, seatToken(f), endAt)
}

func (s *Store) unlocked(ctx context.Context, token string, endAt time.Time) error {
	return s.update(ctx, "unlocked", "lock."+token, readFirst, nil, func(cur record, _ bool) (change, error) {
		if cur.val == nil {
			return change{}, nil
		}
		l, err := decodeLock(cur.val)
		if err != nil {
			return change{}, err
		}
		return change{remove: l.End.Equal(endAt)}, nil
	})
}

// Override implements state.Seats. The override is written before the
// lock is deleted, so a crash between leaves both (a retry completes
// it), never neither; the undo's schedule is cancelled last (one that
// fires anyway finds no lock and is dropped).
func (s *Store) Override(ctx context.Context, f state.SeatFlag, now time.Time, hold time.Duration) (held bool, err error) {
	ctx, end := s.begin(ctx, "override")
	defer func() { err = end(err) }()
	val, err := json.Marshal(overrideRecord{RoomID: f.RoomID, Index: f.Index, Flag: f.Flag, Until: now.Add(hold)})
	if err != nil {
		return false, err
	}
	token := seatToken(f)
	written := false
	err = s.update(ctx, "override", "lock."+token, readFirst, nil, func(cur record, _ bool) (change, error) {
		if held = cur.val != nil; !held {
			return change{}, nil
		}
		if !written {
			if _, err := s.kv.putAny(ctx, "ovr."+token, val, keyTTL(now, now.Add(hold))); err != nil {
				return change{}, err
			}
			written = true
		}
		return change{remove: true}, nil
	})
	if err != nil || !held {
		return held, err
	}
	return true, s.cancelUndo(ctx, token)
}

// OverriddenUntil implements state.Seats.
func (s *Store) OverriddenUntil(ctx context.Context, f state.SeatFlag, now time.Time) (until time.Time, err error) {
	ctx, end := s.begin(ctx, "overridden_until")
	defer func() { err = end(err) }()
	cur, err := s.kv.get(ctx, "ovr."+seatToken(f))
	if err != nil || cur.val == nil {
		return time.Time{}, err
	}
	var o overrideRecord
	if err := json.Unmarshal(cur.val, &o); err != nil {
		return time.Time{}, fmt.Errorf("override record: %w", err)
	}
	if !now.Before(o.Until) {
		return time.Time{}, nil
	}
	return o.Until, nil
}

// PendingUndos implements state.Seats, reading every lock record (a
// snapshot of lock.*): meant for the console, not for every event.
func (s *Store) PendingUndos(ctx context.Context, limit int) (locks []state.Lock, err error) {
	ctx, end := s.begin(ctx, "pending_undos")
	defer func() { err = end(err) }()
	err = s.kv.list(ctx, "lock", func(val []byte) error {
		l, err := decodeLock(val)
		if err == nil && !l.End.IsZero() {
			locks = append(locks, l)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(locks, func(a, b state.Lock) int {
		return cmp.Or(a.End.Compare(b.End), cmp.Compare(a.RoomID, b.RoomID), cmp.Compare(a.Index, b.Index),
			cmp.Compare(a.Flag, b.Flag))
	})
	return locks[:max(0, min(len(locks), limit))], nil
}

// Overrides implements state.Seats, reading every override record (a
// snapshot of ovr.*).
func (s *Store) Overrides(ctx context.Context, now time.Time, limit int) (ovs []state.Override, err error) {
	ctx, end := s.begin(ctx, "overrides")
	defer func() { err = end(err) }()
	err = s.kv.list(ctx, "ovr", func(val []byte) error {
		var o overrideRecord
		if err := json.Unmarshal(val, &o); err != nil {
			return fmt.Errorf("override record: %w", err)
		}
		if now.Before(o.Until) {
			ovs = append(ovs, state.Override{SeatFlag: state.SeatFlag{RoomID: o.RoomID, Index: o.Index, Flag: o.Flag}, Until: o.Until})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ovs, func(a, b state.Override) int {
		return cmp.Or(a.Until.Compare(b.Until), cmp.Compare(a.RoomID, b.RoomID), cmp.Compare(a.Index, b.Index),
			cmp.Compare(a.Flag, b.Flag))
	})
	return ovs[:max(0, min(len(ovs), limit))], nil
}
