package benchtest

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// EventSize is the size the generated events are padded to, the message
// size used against `nats bench`.
const EventSize = 256

// Generator produces canonical events for a rules file from RulesYAML.
// It is not safe for concurrent use.
type Generator struct {
	rules      int
	matchEvery int
	rng        *rand.Rand
	buf        []byte
}

// NewGenerator returns a generator for a set of nRules rules in which one
// event in matchEvery matches a rule (0: none do). seed makes runs
// repeatable.
func NewGenerator(nRules, matchEvery int, seed uint64) *Generator {
	return &Generator{rules: nRules, matchEvery: matchEvery, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Event is one generated event.
type Event struct {
	Subject string // rooms.events.<type>
	Data    []byte // valid until the next call to Next
	Match   bool   // whether exactly one rule matches it
}

// Next returns event number seq, stamped with the time at (its id is
// IDFor(seq, at), so the decision latency can be read back from the
// action log).
func (g *Generator) Next(seq uint64, at time.Time) Event {
	match := g.matchEvery > 0 && g.rules > 0 && seq%uint64(g.matchEvery) == 0
	typ := g.rng.IntN(NumTypes)
	seat := g.rng.IntN(8)
	flagged, score, label := g.rng.IntN(20) == 0, g.rng.Float64()*0.8, "new"
	if match {
		rule := g.rng.IntN(g.rules)
		typ, seat = rule%NumTypes, rule/NumTypes
		flagged, score, label = true, 0.95, "spam"
	}
	g.buf = appendEvent(g.buf[:0], seq, at, Type(typ), seq%100_000, seat, flagged, score, label)
	return Event{Subject: "rooms.events." + Type(typ), Data: g.buf, Match: match}
}

// Matching returns event number seq, matching rule number rule (of a
// set of more than rule rules) and no other, in a room of its own
// (room-<seq>): so each such event starts a cooldown key of its own.
func (g *Generator) Matching(seq uint64, rule int, at time.Time) Event {
	typ := Type(rule)
	g.buf = appendEvent(g.buf[:0], seq, at, typ, seq, rule/NumTypes, true, 0.95, "spam")
	return Event{Subject: "rooms.events." + typ, Data: g.buf, Match: true}
}

// appendEvent writes one canonical event, padded to EventSize with an
// attrs string.
func appendEvent(b []byte, seq uint64, at time.Time, typ string, room uint64, seat int,
	flagged bool, score float64, label string) []byte {
	b = append(b, `{"id":"`...)
	b = AppendID(b, seq, at)
	b = append(b, `","type":"`...)
	b = append(b, typ...)
	b = append(b, `","time":"`...)
	b = at.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","room_id":"room-`...)
	b = strconv.AppendUint(b, room, 10)
	b = append(b, `","user":{"id":"u-`...)
	b = strconv.AppendUint(b, seq%1_000_003, 10)
	b = append(b, `","flagged":`...)
	b = strconv.AppendBool(b, flagged)
	b = append(b, `,"labels":["`...)
	b = append(b, label...)
	b = append(b, `"],"score":`...)
	b = strconv.AppendFloat(b, score, 'f', 3, 64)
	b = append(b, `},"seat":{"index":`...)
	b = strconv.AppendInt(b, int64(seat), 10)
	b = append(b, `},"attrs":{"client":"ios","pad":"`...)
	for len(b) < EventSize-3 {
		b = append(b, 'x')
	}
	return append(b, `"}}`...)
}
