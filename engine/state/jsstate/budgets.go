package jsstate

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// budgetRecord is the value of bud.<hash of rule>: the rule's actions
// still inside their period, and whether it tripped.
type budgetRecord struct {
	tripped bool
	spent   []int64 // Unix nanoseconds
}

// tripRecord is the value of trip.<hash of rule>, which lists the rule
// among the tripped ones.
type tripRecord struct {
	Rule string    `json:"rule"`
	At   time.Time `json:"tripped_at"`
}

func budgetKey(rule string) string { return keyHash("bud", rule) }
func tripKey(rule string) string   { return keyHash("trip", rule) }

// tripsSeen remembers the rules whose trip record this process wrote or
// confirmed, so a tripped rule's refusals do not rewrite it each time.
type tripsSeen struct{ m sync.Map }

// Spend implements state.Budgets. The spending is one record per rule,
// updated with compare-and-swap against this process's last known
// revision; it carries the tripped flag too, so a Spend is one round
// trip. Tripping also writes trip.<rule> (no TTL) for Tripped.
func (s *Store) Spend(ctx context.Context, rule string, maxActions int, per time.Duration, now time.Time) (allowed bool, err error) {
	ctx, end := s.begin(ctx, "spend")
	defer func() { err = end(err) }()
	var tripped, newly bool
	t := now.UnixNano()
	err = s.update(ctx, "spend", budgetKey(rule), fromCache, s.budgets, func(cur record, _ bool) (change, error) {
		b, err := decodeBudget(cur.val)
		if err != nil {
			return change{}, err
		}
		allowed, tripped, newly = false, b.tripped, false
		if b.tripped {
			return change{}, nil
		}
		b.spent = slices.DeleteFunc(b.spent, func(x int64) bool { return x <= t-int64(per) })
		if len(b.spent) >= maxActions {
			tripped, newly = true, true
			return change{write: true, val: encodeBudget(rule, budgetRecord{tripped: true, spent: b.spent})}, nil
		}
		allowed = true
		b.spent = append(b.spent, t)
		last := time.Unix(0, slices.Max(b.spent))
		return change{write: true, val: encodeBudget(rule, b), ttl: keyTTL(now, last.Add(per))}, nil
	})
	if err != nil || !tripped {
		return allowed, err
	}
	return false, s.markTripped(ctx, rule, now, newly)
}

// markTripped writes rule's trip record when it has just tripped, or
// when this process has not seen the record of a rule it found tripped
// (tripping writes the record after the budget: a crash between leaves
// it to the next Spend).
func (s *Store) markTripped(ctx context.Context, rule string, now time.Time, newly bool) error {
	if _, seen := s.trips.m.Load(rule); seen && !newly {
		return nil
	}
	val, err := json.Marshal(tripRecord{Rule: rule, At: now})
	if err != nil {
		return err
	}
	if _, err := s.kv.putAny(ctx, tripKey(rule), val, 0); err != nil {
		return err
	}
	s.trips.m.Store(rule, true)
	return nil
}

// Tripped implements state.Budgets, listing the trip records.
func (s *Store) Tripped(ctx context.Context) (rules []string, err error) {
	ctx, end := s.begin(ctx, "tripped")
	defer func() { err = end(err) }()
	err = s.kv.list(ctx, "trip", func(val []byte) error {
		var r tripRecord
		if err := json.Unmarshal(val, &r); err != nil {
			return fmt.Errorf("trip record: %w", err)
		}
		rules = append(rules, r.Rule)
		return nil
	})
	slices.Sort(rules)
	return rules, err
}

// Reset implements state.Budgets: it deletes the trip record, then the
// spending (in that order, so a crash between leaves the rule tripped,
// and Spend writes the trip record again).
func (s *Store) Reset(ctx context.Context, rule string) (err error) {
	ctx, end := s.begin(ctx, "reset")
	defer func() { err = end(err) }()
	s.trips.m.Delete(rule)
	if err := s.kv.remove(ctx, tripKey(rule), 0); err != nil {
		return err
	}
	s.budgets.drop(budgetKey(rule))
	return s.kv.remove(ctx, budgetKey(rule), 0)
}

const budgetVersion = 1

// encodeBudget lays a budget key's value out as: a version byte; the
// rule (uvarint length and bytes); a flags byte (1: tripped); then 8
// bytes per action, its Unix nanoseconds, little-endian.
func encodeBudget(rule string, b budgetRecord) []byte {
	out := make([]byte, 0, 2+binary.MaxVarintLen64+len(rule)+8*len(b.spent))
	out = append(out, budgetVersion)
	out = binary.AppendUvarint(out, uint64(len(rule)))
	out = append(out, rule...)
	var flags byte
	if b.tripped {
		flags = 1
	}
	out = append(out, flags)
	for _, t := range b.spent {
		out = binary.LittleEndian.AppendUint64(out, uint64(t))
	}
	return out
}

var errBadBudget = errors.New("malformed budget record")

func decodeBudget(b []byte) (budgetRecord, error) {
	if len(b) == 0 {
		return budgetRecord{}, nil
	}
	if b[0] != budgetVersion {
		return budgetRecord{}, fmt.Errorf("%w: version %d", errBadBudget, b[0])
	}
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || uint64(len(b)-1-w) < n+1 {
		return budgetRecord{}, errBadBudget
	}
	b = b[1+w+int(n):]
	r := budgetRecord{tripped: b[0]&1 != 0}
	b = b[1:]
	if len(b)%8 != 0 {
		return budgetRecord{}, errBadBudget
	}
	r.spent = make([]int64, len(b)/8, len(b)/8+1)
	for i := range r.spent {
		r.spent[i] = int64(binary.LittleEndian.Uint64(b[i*8:]))
	}
	return r, nil
}
