package jsstate

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// bucket reads and writes the records of one KV bucket at the stream
// level, where a write can carry both a compare-and-swap condition and a
// per-key TTL (kv.Update cannot set a TTL).
type bucket struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	stream jetstream.Stream // KV_<name>
	pre    string           // "$KV.<name>."
	batch  *batchReader     // fresh reads in batches; nil: one request each
}

// KV headers and values the records use.
const (
	kvOperation = "KV-Operation"
	kvPurge     = "PURGE"
)

// deletedMarkerTTL is how long the marker a delete leaves in the state
// bucket lives: the key's subject is empty afterwards.
const deletedMarkerTTL = time.Minute

func newBucket(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue) (*bucket, error) {
	st, err := js.Stream(ctx, "KV_"+kv.Bucket())
	if err != nil {
		return nil, fmt.Errorf("KV bucket %s: stream: %w", kv.Bucket(), err)
	}
	return &bucket{js: js, kv: kv, stream: st, pre: "$KV." + kv.Bucket() + "."}, nil
}

// record is a key's last message: its revision (0: the subject holds no
// message) and its value (nil: absent, deleted or expired; a marker
// still has a revision to compare and swap against).
type record struct {
	rev uint64
	val []byte
}

// get reads key's last message.
func (b *bucket) get(ctx context.Context, key string) (record, error) {
	m, err := b.stream.GetLastMsgForSubject(ctx, b.pre+key)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return record{}, nil
	}
	if err != nil {
		return record{}, fmt.Errorf("read %s: %w", key, err)
	}
	return recordOf(m.Sequence, m.Header, m.Data), nil
}

// recordOf is the record a key's last message makes: a delete, purge or
// expiry marker has a revision and no value; a value is never nil.
func recordOf(seq uint64, h nats.Header, data []byte) record {
	if deleted(h) {
		return record{rev: seq}
	}
	if data == nil {
		data = []byte{}
	}
	return record{rev: seq, val: data}
}

// read reads key's last message like get, in a batch with the reads
// waiting at the same moment when the bucket allows it (reads.go).
func (b *bucket) read(ctx context.Context, key string) (record, error) {
	if b.batch == nil {
		return b.get(ctx, key)
	}
	return b.batch.get(ctx, key)
}

// deleted reports whether a KV message's headers make it a delete or
// purge marker, or a marker the server left for an expired key.
func deleted(h nats.Header) bool {
	return h.Get(kvOperation) != "" || h.Get(jetstream.MarkerReasonHeader) != ""
}

// errConflict reports that a compare-and-swap found another revision.
var errConflict = errors.New("revision changed")

// put writes val to key if the key's last revision is still rev (0: the
// key has no message), expiring after ttl (0: never). It returns the new
// revision.
func (b *bucket) put(ctx context.Context, key string, val []byte, rev uint64, ttl time.Duration) (uint64, error) {
	m := &nats.Msg{Subject: b.pre + key, Data: val, Header: nats.Header{}}
	opts := []jetstream.PublishOpt{jetstream.WithExpectLastSequencePerSubject(rev)}
	if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	ack, err := b.publish(ctx, m, opts...)
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", key, err)
	}
	return ack.Sequence, nil
}

// putAny writes val to key whatever its revision.
func (b *bucket) putAny(ctx context.Context, key string, val []byte, ttl time.Duration) (uint64, error) {
	m := &nats.Msg{Subject: b.pre + key, Data: val, Header: nats.Header{}}
	var opts []jetstream.PublishOpt
	if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	ack, err := b.publish(ctx, m, opts...)
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", key, err)
	}
	return ack.Sequence, nil
}

// remove deletes key if its last revision is still rev (any revision
// when rev is 0), leaving a purge marker that expires.
func (b *bucket) remove(ctx context.Context, key string, rev uint64) error {
	m := nats.NewMsg(b.pre + key)
	m.Header.Set(kvOperation, kvPurge)
	m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	m.Header.Set(jetstream.MsgTTLHeader, deletedMarkerTTL.String())
	if rev > 0 {
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(rev, 10))
	}
	if _, err := b.publish(ctx, m); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// publish publishes m to the bucket's stream, turning a failed
// compare-and-swap into errConflict.
func (b *bucket) publish(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	ack, err := b.js.PublishMsg(ctx, m, opts...)
	if isWrongLastSequence(err) {
		return nil, errConflict
	}
	return ack, err
}

// isWrongLastSequence reports whether err is JetStream refusing a write
// whose expected last sequence did not match (10164 on replicated
// streams).
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// keyHash is the KV key of the caller's strings under prefix: prefix, a
// dot and hashHex of the strings (KV keys admit few characters, and a
// hash bounds their length).
func keyHash(prefix string, parts ...string) string {
	sum := hashParts(parts)
	buf := make([]byte, len(prefix)+1+hashHexLen)
	copy(buf, prefix)
	buf[len(prefix)] = '.'
	hex.Encode(buf[len(prefix)+1:], sum[:hashHexLen/2])
	return string(buf)
}

// hashHexLen is the length of hashHex: 128 bits in hex.
const hashHexLen = 32

// hashHex is 32 hex digits of the SHA-256 of parts, each
// length-prefixed, so ("ab", "c") and ("a", "bc") differ.
func hashHex(parts ...string) string {
	sum := hashParts(parts)
	return hex.EncodeToString(sum[:hashHexLen/2])
}

func hashParts(parts []string) [sha256.Size]byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, p := range parts {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// sum64 is a stable 64-bit hash of s, for the entries of windows; 0
// stands for the empty string.
func sum64(s string) uint64 {
	if s == "" {
		return 0
	}
	sum := sha256.Sum256([]byte(s))
	return binary.LittleEndian.Uint64(sum[:8]) | 1
}

// Key TTLs. A key's TTL only collects garbage: every record carries the
// absolute times it means and every call compares them with the time
// its caller passes. The TTL is the record's meaningful end less the
// caller's now, plus ttlGrace for clocks that disagree between replicas,
// rounded up to whole seconds (nats-server's granularity and minimum).
const ttlGrace = 5 * time.Second

// keyTTL is the TTL of a record that means something until end, written
// at now.
func keyTTL(now, end time.Time) time.Duration {
	d := end.Sub(now) + ttlGrace
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return max(d, time.Second)
}

// list calls fn with the value of every key under prefix ("lock" lists
// lock.*), read from a snapshot: an ordered consumer that delivers each
// key's last message, deletes and expired keys left out.
func (b *bucket) list(ctx context.Context, prefix string, fn func(val []byte) error) error {
	w, err := b.kv.WatchFiltered(ctx, []string{prefix + ".>"}, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("list %s.*: %w", prefix, err)
	}
	defer stopWatcher(w)
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("list %s.*: watcher stopped", prefix)
			}
			if e == nil {
				return nil
			}
			if err := fn(e.Value()); err != nil {
				return err
			}
		case <-ctx.Done():
			return fmt.Errorf("list %s.*: %w", prefix, ctx.Err())
		}
	}
}

// stopWatcher stops w in the background (the client deletes its
// consumer, which may wait for a server that does not answer) and
// drains what it still delivers, so its delivery goroutine, which
// blocks on a full channel, can end.
func stopWatcher(w jetstream.KeyWatcher) {
	go func() {
		_ = w.Stop()
		for range w.Updates() {
		}
	}()
}
