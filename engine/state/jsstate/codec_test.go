package jsstate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine/state"
)

func TestWindowCodec(t *testing.T) {
	entries := []windowEntry{{event: 1, value: 0, at: -5}, {event: 1<<64 - 1, value: 7, at: time.Now().UnixNano()}}
	b := encodeWindow("reports", "room/u1", entries)
	if want := 1 + 1 + len("reports") + 1 + len("room/u1") + 24*len(entries); len(b) != want {
		t.Errorf("encoded %d bytes, want %d", len(b), want)
	}
	got, total, err := decodeWindow(b, math.MinInt64)
	if err != nil || total != 2 || !slices.Equal(got, entries) {
		t.Errorf("decode = %v, %d, %v; want %v", got, total, err, entries)
	}
	if got, total, err := decodeWindow(b, -5); err != nil || total != 2 || !slices.Equal(got, entries[1:]) {
		t.Errorf("decode from -5 = %v, %d, %v; want only the later entry", got, total, err)
	}
	for _, bad := range [][]byte{{2}, b[:len(b)-1], {1, 9, 'a'}} {
		if _, _, err := decodeWindow(bad, 0); !errors.Is(err, errBadWindow) {
			t.Errorf("decode(%v) = %v, want errBadWindow", bad, err)
		}
	}
	if got, total, err := decodeWindow(nil, 0); err != nil || got != nil || total != 0 {
		t.Errorf("decode(nil) = %v, %d, %v; want an empty window", got, total, err)
	}
}

func TestCapEntries(t *testing.T) {
	var entries []windowEntry
	for i := range MaxWindowEntries + 1 {
		entries = append(entries, windowEntry{event: uint64(i), at: int64((i + 500) % (MaxWindowEntries + 1))})
	}
	got := capEntries(entries)
	if len(got) != MaxWindowEntries {
		t.Fatalf("%d entries kept, want %d", len(got), MaxWindowEntries)
	}
	if slices.ContainsFunc(got, func(e windowEntry) bool { return e.at == 0 }) {
		t.Error("the oldest entry was kept")
	}
}

func TestCount(t *testing.T) {
	entries := []windowEntry{{1, 10, 1}, {2, 10, 2}, {3, 20, 3}, {4, 30, 9}}
	if got := count(entries, false); got != 4 {
		t.Errorf("count of events = %d, want 4 (every live entry, later ones too)", got)
	}
	if got := count(entries, true); got != 3 {
		t.Errorf("count of distinct values = %d, want 3", got)
	}
	if got := count(nil, true); got != 0 {
		t.Errorf("count of nothing = %d, want 0", got)
	}
}

func TestBudgetCodec(t *testing.T) {
	for _, b := range []budgetRecord{{}, {tripped: true, spent: []int64{1, 2}}, {spent: []int64{-1}}} {
		got, err := decodeBudget(encodeBudget("rule@abc", b))
		if err != nil || got.tripped != b.tripped || !slices.Equal(got.spent, b.spent) {
			t.Errorf("round trip of %+v = %+v, %v", b, got, err)
		}
	}
	for _, bad := range [][]byte{{9}, {1, 5, 'a'}, append(encodeBudget("r", budgetRecord{spent: []int64{1}}), 0)} {
		if _, err := decodeBudget(bad); !errors.Is(err, errBadBudget) {
			t.Errorf("decode(%v) = %v, want errBadBudget", bad, err)
		}
	}
}

func TestMemberKeys(t *testing.T) {
	tests := []struct{ member, key string }{
		{"u42", "u42"},
		{"room-1/user_2.x=y", "room-1/user_2.x=y"},
		{"user@example.com", "=dXNlckBleGFtcGxlLmNvbQ"},
		{"=abc", "=PWFiYw"},
		{"a..b", "=YS4uYg"},
		{".a", "=LmE"},
		{"a.", "=YS4"},
		{"", "="},
		{"a b", "=YSBi"},
	}
	for _, tc := range tests {
		key := encodeMember(tc.member)
		if key != tc.key {
			t.Errorf("encodeMember(%q) = %q, want %q", tc.member, key, tc.key)
		}
		if !validKey.MatchString(key) {
			t.Errorf("encodeMember(%q) = %q is not a valid KV key", tc.member, key)
		}
		if got := decodeMember(key); got != tc.member {
			t.Errorf("decodeMember(%q) = %q, want %q", key, got, tc.member)
		}
	}
	if got := decodeMember("=not base64!"); got != "=not base64!" {
		t.Errorf("a key that is not base64 decodes to %q, want itself", got)
	}
}

func TestKeyTTL(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		end  time.Duration
		want time.Duration
	}{
		{time.Minute, time.Minute + ttlGrace},
		{1500 * time.Millisecond, 7 * time.Second},
		{-time.Hour, time.Second}, // already over: the server's minimum
		{0, ttlGrace},
	}
	for _, tc := range tests {
		if got := keyTTL(now, now.Add(tc.end)); got != tc.want {
			t.Errorf("keyTTL(end +%v) = %v, want %v", tc.end, got, tc.want)
		}
	}
}

func TestCeilSecond(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)
	for _, tc := range []struct{ in, want time.Time }{
		{t0, t0}, {t0.Add(time.Nanosecond), t0.Add(time.Second)}, {t0.Add(999 * time.Millisecond), t0.Add(time.Second)},
	} {
		if got := ceilSecond(tc.in); !got.Equal(tc.want) {
			t.Errorf("ceilSecond(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestKeyHash(t *testing.T) {
	a, b := keyHash("w", "ab", "c"), keyHash("w", "a", "bc")
	if a == b {
		t.Error(`("ab", "c") and ("a", "bc") hash alike`)
	}
	if len(a) != len("w.")+hashHexLen || !validKey.MatchString(a) || a[:2] != "w." {
		t.Errorf("keyHash = %q, want w. and %d hex digits", a, hashHexLen)
	}
	if got := keyHash("lock", "x"); got != "lock."+hashHex("x") {
		t.Errorf("keyHash and hashHex disagree: %s", got)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err         error
		result      string
		unavailable bool
	}{
		{nil, resultOK, false},
		{fmt.Errorf("read x: %w", context.DeadlineExceeded), resultUnavailable, true},
		{nats.ErrConnectionClosed, resultUnavailable, true},
		{jetstream.ErrNoStreamResponse, resultUnavailable, true},
		{&jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "jetstream system temporarily unavailable"}, resultUnavailable, true},
		{fmt.Errorf("k: %w", errContention), resultConflict, true},
		{errors.New("malformed window record"), resultError, false},
		{&jetstream.APIError{Code: 400, ErrorCode: 10054, Description: "message size exceeds maximum allowed"}, resultError, false},
	}
	for _, tc := range tests {
		err, result := classify("feed", tc.err)
		if result != tc.result || errors.Is(err, state.ErrUnavailable) != tc.unavailable {
			t.Errorf("classify(%v) = %v, %s; want result %s, unavailable %v", tc.err, err, result, tc.result, tc.unavailable)
		}
		if tc.err != nil && !errors.Is(err, tc.err) {
			t.Errorf("classify(%v) = %v does not wrap it", tc.err, err)
		}
	}
}

func TestConfig(t *testing.T) {
	good := Config{}.withDefaults()
	good.JetStream = fakeJetStream{}
	if err := good.validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"no jetstream", func(c *Config) { c.JetStream = nil }},
		{"bucket with a dot", func(c *Config) { c.Bucket = "a.b" }},
		{"stream with a space", func(c *Config) { c.UndoStream = "A B" }},
		{"subject with a wildcard", func(c *Config) { c.UndoSubject = "undo.>" }},
		{"subject with an empty token", func(c *Config) { c.UndoSubject = "undo..x" }},
		{"durable with a dot", func(c *Config) { c.UndoDurable = "a.b" }},
		{"negative replicas", func(c *Config) { c.Replicas = -1 }},
		{"six replicas", func(c *Config) { c.Replicas = 6 }},
		{"negative timeout", func(c *Config) { c.OpTimeout = -time.Second }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.change(&c)
			if err := c.withDefaults().validate(); err == nil {
				t.Errorf("%+v validates", c)
			}
		})
	}
}

// fakeJetStream satisfies Config's requirement in TestConfig; it is
// never called.
type fakeJetStream struct{ jetstream.JetStream }
