package jsstate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// stateBucketMarkerTTL is how long the state bucket keeps the markers of
// expired keys; nothing watches them, so they only need to exist.
const stateBucketMarkerTTL = time.Minute

func (s *Store) openStateBucket(ctx context.Context) (*bucket, error) {
	kv, err := s.ensureBucket(ctx, s.cfg.Bucket, "roomwarden state", stateBucketMarkerTTL)
	if err != nil {
		return nil, err
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("KV bucket %s: status: %w", s.cfg.Bucket, err)
	}
	if st.LimitMarkerTTL() == 0 {
		if kv, err = s.enableKeyTTLs(ctx, st); err != nil {
			return nil, err
		}
	}
	b, err := newBucket(ctx, s.js, kv)
	if err != nil {
		return nil, err
	}
	if b.stream.CachedInfo().Config.AllowDirect {
		if b.batch, err = newBatchReader(s.js, b, s.cfg.OpTimeout); err != nil {
			return nil, fmt.Errorf("KV bucket %s: %w", s.cfg.Bucket, err)
		}
	}
	return b, nil
}

// ensureBucket opens the KV bucket name, creating it with per-key TTLs
// (markers kept for markerTTL) if it does not exist.
func (s *Store) ensureBucket(ctx context.Context, name, description string, markerTTL time.Duration) (jetstream.KeyValue, error) {
	kv, err := s.js.KeyValue(ctx, name)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("KV bucket %s: %w", name, err)
	}
	kv, err = s.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         name,
		Description:    description,
		History:        1,
		Storage:        jetstream.FileStorage,
		Replicas:       s.cfg.Replicas,
		LimitMarkerTTL: markerTTL,
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = s.js.KeyValue(ctx, name) // another replica created it first
	}
	if err != nil {
		return nil, fmt.Errorf("create KV bucket %s: %w", name, err)
	}
	s.log.Info("created KV bucket", "bucket", name, "replicas", s.cfg.Replicas, "marker_ttl", markerTTL)
	return kv, nil
}

// enableKeyTTLs turns per-key TTLs on in the existing state bucket.
func (s *Store) enableKeyTTLs(ctx context.Context, st jetstream.KeyValueStatus) (jetstream.KeyValue, error) {
	kst, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return nil, fmt.Errorf("KV bucket %s has no per-key TTLs (limit_marker_ttl) and its config cannot be read", s.cfg.Bucket)
	}
	cfg := kst.Config()
	cfg.LimitMarkerTTL = stateBucketMarkerTTL
	kv, err := s.js.UpdateKeyValue(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("KV bucket %s has no per-key TTLs and enabling them failed (set limit_marker_ttl or delete the bucket): %w",
			s.cfg.Bucket, err)
	}
	s.log.Info("enabled per-key TTLs on KV bucket", "bucket", s.cfg.Bucket, "marker_ttl", stateBucketMarkerTTL)
	return kv, nil
}

func (s *Store) openUndoStream(ctx context.Context) (jetstream.Stream, error) {
	want := jetstream.StreamConfig{
		Name:        s.cfg.UndoStream,
		Description: "roomwarden scheduled undos",
		Subjects:    []string{s.scheduleSubject("*"), s.dueSubject("*")},
		// A due undo leaves the stream when a daemon acks it; one that
		// nobody acked waits for the next daemon.
		Retention:         jetstream.WorkQueuePolicy,
		Storage:           jetstream.FileStorage,
		Replicas:          s.cfg.Replicas,
		AllowMsgSchedules: true,
		AllowRollup:       true,
	}
	st, err := s.js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = s.js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = s.js.Stream(ctx, want.Name)
		} else if err == nil {
			s.log.Info("created stream", "stream", want.Name, "subjects", want.Subjects, "replicas", want.Replicas)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("undo stream %s: %w", want.Name, err)
	}
	if have := st.CachedInfo().Config; !have.AllowMsgSchedules || !coversSubjects(have.Subjects, want.Subjects) {
		return nil, fmt.Errorf("undo stream %s exists without message schedules or subjects %s; delete it or use another name",
			want.Name, strings.Join(want.Subjects, ", "))
	}
	return st, nil
}

// coversSubjects reports whether every subject of want is among have.
func coversSubjects(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w || h == ">" || (strings.HasSuffix(h, ".>") && strings.HasPrefix(w, strings.TrimSuffix(h, ">"))) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
