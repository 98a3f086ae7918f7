package rules

import "slices"

// ruleIndex narrows the rules listening for one event type to those
// that can match a given event (see indexkey.go for what a key is).
// Each rule with keys is filed under one of them, the most selective,
// by every value of the key's field that can make the key true; the
// rules without keys are in rest. An event's candidates are rest and
// the rules filed under its own field values: every other rule has a
// key that is false on the event, after conjuncts that cannot fail, so
// its condition is false without an error. Positions are into
// typeIndex.rules, ascending, so that candidates run in load order.
type ruleIndex struct {
	rest   []int32
	fields []fieldIndex
}

// fieldIndex is the rules filed under one field, by value.
type fieldIndex struct {
	field indexField
	strs  map[string][]int32 // string fields
	ints  map[int][]int32    // seat.index
}

// lookup returns the positions of the rules filed under ev's value.
func (f *fieldIndex) lookup(ev *Event) []int32 {
	if f.ints != nil {
		return f.ints[f.field.int(ev)]
	}
	return f.strs[f.field.str(ev)]
}

// add files position i under value v.
func (f *fieldIndex) add(v any, i int32) {
	if f.field.isInt() {
		n := v.(int)
		f.ints[n] = append(f.ints[n], i)
		return
	}
	s := v.(string)
	f.strs[s] = append(f.strs[s], i)
}

// maxIndexEntries bounds the values under which one set files its
// rules, over all event types; past it, rules are not indexed.
const maxIndexEntries = 1 << 20

// newRuleIndex indexes the rules of eventType, given each rule's keys,
// filing at most *room values, which it takes from *room. It returns
// nil when no rule can be left out of any event's evaluation: then
// every rule is a candidate.
func newRuleIndex(eventType string, keys [][]indexKey, room *int) *ruleIndex {
	resolved := make([][]indexKey, len(keys))
	for i, ks := range keys {
		resolved[i] = resolveType(eventType, ks)
	}
	distinct := distinctValues(resolved)
	x := &ruleIndex{}
	var byField [numIndexFields]*fieldIndex
	indexed := false
	for i, ks := range resolved {
		if len(ks) == 0 {
			x.rest = append(x.rest, int32(i))
			continue
		}
		k, ok := bestKey(ks, distinct, *room)
		if !ok {
			x.rest = append(x.rest, int32(i))
			continue
		}
		indexed = true
		*room -= len(k.values)
		if len(k.values) == 0 {
			continue // never true: the rule is filed nowhere
		}
		f := byField[k.field]
		if f == nil {
			f = newFieldIndex(k.field)
			byField[k.field] = f
		}
		for _, v := range k.values {
			f.add(v, int32(i))
		}
	}
	if !indexed {
		return nil
	}
	for _, f := range byField {
		if f != nil {
			x.fields = append(x.fields, *f)
		}
	}
	return x
}

func newFieldIndex(f indexField) *fieldIndex {
	if f.isInt() {
		return &fieldIndex{field: f, ints: make(map[int][]int32)}
	}
	return &fieldIndex{field: f, strs: make(map[string][]int32)}
}

// resolveType settles a rule's keys on event.type, which is eventType
// for every event the index sees: one that holds for eventType tells
// nothing and is dropped; one that does not makes the rule never match,
// and is all that is left, with no values.
func resolveType(eventType string, ks []indexKey) []indexKey {
	var out []indexKey
	for _, k := range ks {
		switch {
		case k.field != fieldType:
			out = append(out, k)
		case !slices.Contains(k.values, any(eventType)):
			return []indexKey{{field: fieldType}}
		}
	}
	return out
}

// distinctValues counts the distinct values of each field over all keys.
func distinctValues(keys [][]indexKey) [numIndexFields]int {
	var seen [numIndexFields]map[any]bool
	var n [numIndexFields]int
	for _, ks := range keys {
		for _, k := range ks {
			if seen[k.field] == nil {
				seen[k.field] = make(map[any]bool)
			}
			for _, v := range k.values {
				if !seen[k.field][v] {
					seen[k.field][v] = true
					n[k.field]++
				}
			}
		}
	}
	return n
}

// bestKey picks the key that is true for the fewest events, guessing
// that the values the rules name are as likely as one another: the
// fewest values for the field's distinct values across the rules.
// Ties go to the field first in indexFieldPaths, then to the first key.
// A key with no values (never true) wins: the rule is filed nowhere.
// Keys with more than room values are left out; ok is false when no
// key is left.
func bestKey(ks []indexKey, distinct [numIndexFields]int, room int) (best indexKey, ok bool) {
	for _, k := range ks {
		if len(k.values) > room {
			continue
		}
		// k/dk < best/db without division: k*db < best*dk.
		a := len(k.values) * max(distinct[best.field], 1)
		b := len(best.values) * max(distinct[k.field], 1)
		if !ok || a < b || a == b && k.field < best.field {
			best, ok = k, true
		}
	}
	return best, ok
}

// candidateBuf is an Evaluator's buffer for the candidates of one
// event: reused, so that selecting them allocates nothing.
type candidateBuf struct {
	lists  [][]int32
	merged []int32
}

// of returns the positions in t.rules of the rules to evaluate on ev,
// ascending. The slice is t's or b's, valid until the next call.
func (b *candidateBuf) of(t *typeIndex, ev *Event) []int32 {
	x := t.sel
	if x == nil {
		return t.all
	}
	lists := b.lists[:0]
	if len(x.rest) > 0 {
		lists = append(lists, x.rest)
	}
	for i := range x.fields {
		if l := x.fields[i].lookup(ev); len(l) > 0 {
			lists = append(lists, l)
		}
	}
	b.lists = lists
	switch len(lists) {
	case 0:
		return nil
	case 1:
		l := lists[0]
		clear(lists) // drop the references into the set
		return l
	}
	b.merged = mergeSorted(b.merged[:0], lists)
	clear(lists) // drop the references into the set
	return b.merged
}

// mergeSorted appends to dst the union of lists, which are ascending
// and disjoint (a rule is filed under one field), in ascending order.
// It consumes lists.
func mergeSorted(dst []int32, lists [][]int32) []int32 {
	for {
		best := -1
		for j, l := range lists {
			if len(l) > 0 && (best < 0 || l[0] < lists[best][0]) {
				best = j
			}
		}
		if best < 0 {
			return dst
		}
		dst = append(dst, lists[best][0])
		lists[best] = lists[best][1:]
	}
}
