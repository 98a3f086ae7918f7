package jsstate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
)

// MaxWindowEntries bounds the entries one window key keeps. Above it the
// oldest entry is dropped for each new one, so a window's count reads at
// most MaxWindowEntries (and an event dropped that way would be counted
// again if it were fed again). Thresholds are meant to be far below.
const MaxWindowEntries = 1000

// windowEntry is one event recorded at a window key: hashes of its id
// and of its distinct value (0: none), and its time in Unix nanoseconds.
type windowEntry struct {
	event, value uint64
	at           int64
}

const (
	windowVersion   = 1
	windowEntrySize = 24
)

func windowKey(window, key string) string { return keyHash("w", window, key) }

// Feed implements state.Windows: it prunes the key's entries to the
// window, appends f unless its event is recorded, and writes the list
// back with compare-and-swap, first against this process's last known
// revision or, for a key it knows nothing of, as a create (the guess
// that the key is absent): one round trip when it alone feeds the key,
// and for the first feed of a key, the common case in short windows.
func (s *Store) Feed(ctx context.Context, f state.Feed, distinct bool) (n int, err error) {
	ctx, end := s.begin(ctx, "feed")
	defer func() { err = end(err) }()
	e := windowEntry{event: sum64(f.EventID), value: sum64(f.Value), at: f.At.UnixNano()}
	err = s.update(ctx, "feed", windowKey(f.Window, f.Key), fromCache, s.windows, func(cur record, _ bool) (change, error) {
		kept, total, err := decodeWindow(cur.val, e.at-int64(f.Span))
		if err != nil {
			return change{}, err
		}
		if slices.ContainsFunc(kept, func(x windowEntry) bool { return x.event == e.event }) {
			n = count(kept, distinct)
			if len(kept) == total {
				return change{}, nil
			}
		} else {
			kept = capEntries(append(kept, e))
			n = count(kept, distinct)
		}
		return change{write: true, val: encodeWindow(f.Window, f.Key, kept), ttl: windowTTL(kept, f.At, f.Span)}, nil
	})
	return n, err
}

// Count implements state.Windows.
func (s *Store) Count(ctx context.Context, window, key string, span time.Duration, distinct bool, at time.Time) (n int, err error) {
	ctx, end := s.begin(ctx, "count")
	defer func() { err = end(err) }()
	k := windowKey(window, key)
	cur, err := s.kv.read(ctx, k)
	if err != nil {
		return 0, err
	}
	entries, _, err := decodeWindow(cur.val, at.UnixNano()-int64(span))
	if err != nil {
		return 0, err
	}
	if cur.val != nil {
		s.windows.set(k, cur)
	}
	return count(entries, distinct), nil
}

// capEntries drops the oldest entries beyond MaxWindowEntries.
func capEntries(entries []windowEntry) []windowEntry {
	for len(entries) > MaxWindowEntries {
		oldest := 0
		for i, e := range entries {
			if e.at < entries[oldest].at {
				oldest = i
			}
		}
		entries = slices.Delete(entries, oldest, oldest+1)
	}
	return entries
}

// count counts the live entries: events, or distinct values. Entries
// later than the caller's time count too (see state.Windows.Feed).
func count(entries []windowEntry, distinct bool) int {
	if !distinct {
		return len(entries)
	}
	var buf [64]uint64
	values := buf[:0]
	for _, e := range entries {
		values = append(values, e.value)
	}
	slices.Sort(values)
	return len(slices.Compact(values))
}

// windowTTL keeps the key until its last entry leaves the window.
func windowTTL(entries []windowEntry, at time.Time, span time.Duration) time.Duration {
	last := at.UnixNano()
	for _, e := range entries {
		last = max(last, e.at)
	}
	return keyTTL(at, time.Unix(0, last).Add(span))
}

// encodeWindow lays a window key's value out as: a version byte; the
// window's name and the rendered key, each a uvarint length and the
// bytes (readable with nats kv get, since the KV key is a hash); then 24
// bytes per entry, little-endian: event id hash, value hash, Unix
// nanoseconds.
func encodeWindow(window, key string, entries []windowEntry) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(window)+len(key)+windowEntrySize*len(entries))
	b = append(b, windowVersion)
	b = binary.AppendUvarint(b, uint64(len(window)))
	b = append(b, window...)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint64(b, e.event)
		b = binary.LittleEndian.AppendUint64(b, e.value)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.at))
	}
	return b
}

var errBadWindow = errors.New("malformed window record")

// decodeWindow reads encodeWindow's layout, keeping the entries that
// did not fall out of the window: those later than from (at-span). Like
// state.Memory it keeps entries later than the window's end (replayed
// earlier events). total counts every entry; nil is an empty window.
func decodeWindow(b []byte, from int64) (live []windowEntry, total int, err error) {
	if len(b) == 0 {
		return nil, 0, nil
	}
	if b[0] != windowVersion {
		return nil, 0, fmt.Errorf("%w: version %d", errBadWindow, b[0])
	}
	b = b[1:]
	for range 2 { // skip the window's name and the key
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return nil, 0, errBadWindow
		}
		b = b[w+int(n):]
	}
	if len(b)%windowEntrySize != 0 {
		return nil, 0, errBadWindow
	}
	total = len(b) / windowEntrySize
	live = make([]windowEntry, 0, total+1) // room for the entry Feed adds
	for ; len(b) > 0; b = b[windowEntrySize:] {
		e := windowEntry{
			event: binary.LittleEndian.Uint64(b),
			value: binary.LittleEndian.Uint64(b[8:]),
			at:    int64(binary.LittleEndian.Uint64(b[16:])),
		}
		if e.at > from {
			live = append(live, e)
		}
	}
	return live, total, nil
}
