package jsstate_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/internal/natstest"
)

// membersOf is s.Members as a sorted slice, failing the test on an
// error.
func membersOf(t *testing.T, s *jsstate.Store, bucket string, now time.Time) []string {
	t.Helper()
	m, err := s.Members(t.Context(), bucket, now)
	if err != nil {
		t.Fatalf("Members(%s): %v", bucket, err)
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestLabelsFromProducers: what another connection writes to the bucket
// (as `nats kv put`/`del` do, with or without a per-key TTL) shows in
// Members within about a second (logged), and leaves it when deleted or
// expired.
func TestLabelsFromProducers(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	s := open(t, srv, jsstate.Config{})
	now := time.Now()
	if got := membersOf(t, s, "watched_users", now); len(got) != 0 {
		t.Fatalf("members of a new bucket: %v", got)
	}
	kv, err := connect(t, srv).KeyValue(t.Context(), "watched_users") // created by Members
	if err != nil {
		t.Fatalf("the bucket was not created: %v", err)
	}
	has := func(m string) func() bool {
		return func() bool { return slices.Contains(membersOf(t, s, "watched_users", now), m) }
	}
	steps := []struct {
		name  string
		write func(context.Context) error
		cond  func() bool
	}{
		{"put u42", func(ctx context.Context) error { _, err := kv.Put(ctx, "u42", nil); return err }, has("u42")},
		{"create u43 with a 2s TTL", func(ctx context.Context) error {
			_, err := kv.Create(ctx, "u43", []byte("spam"), jetstream.KeyTTL(2*time.Second))
			return err
		}, has("u43")},
		{"delete u42", func(ctx context.Context) error { return kv.Delete(ctx, "u42") }, not(has("u42"))},
		{"u43 expires", nil, not(has("u43"))},
	}
	for _, st := range steps {
		if st.write != nil {
			if err := st.write(t.Context()); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		start := time.Now()
		eventually(t, st.name, st.cond)
		t.Logf("%s: seen after %v", st.name, time.Since(start).Round(time.Millisecond))
	}
}

func not(f func() bool) func() bool { return func() bool { return !f() } }

// TestLabelsWithExpiry: a member added for 2s is a member until then by
// the caller's clock, then its key leaves the bucket (and Members even
// at the original now) once its TTL has passed.
func TestLabelsWithExpiry(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	s := open(t, srv, jsstate.Config{})
	replica := open(t, srv, jsstate.Config{})
	now := time.Now()
	if err := s.AddMember(t.Context(), "watched_users", "u1", now, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   time.Duration
		want []string
	}{{0, []string{"u1"}}, {time.Second, []string{"u1"}}, {2 * time.Second, []string{}}} {
		if got := membersOf(t, s, "watched_users", now.Add(c.at)); !slices.Equal(got, c.want) {
			t.Errorf("members at +%v = %v, want %v", c.at, got, c.want)
		}
	}
	eventually(t, "a replica sees the member", func() bool {
		return slices.Equal(membersOf(t, replica, "watched_users", now), []string{"u1"})
	})
	kv, err := connect(t, srv).KeyValue(t.Context(), "watched_users")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the key expires from the bucket", func() bool { return countKeys(t, kv) == 0 })
	eventually(t, "the expired key leaves Members", func() bool {
		return len(membersOf(t, s, "watched_users", now)) == 0 && len(membersOf(t, replica, "watched_users", now)) == 0
	})
}

// TestLabelMemberEncoding: members that are not valid KV keys are
// stored under an encoded key and come back as they were; plain ones
// are their own keys.
func TestLabelMemberEncoding(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	s := open(t, srv, jsstate.Config{})
	members := []string{"u1", "user@example.com", "名前", "=starts-with-equals", "a..b", ".dot", ""}
	for _, m := range members {
		if err := s.AddMember(t.Context(), "watched_users", m, time.Now(), 0); err != nil {
			t.Fatalf("AddMember(%q): %v", m, err)
		}
	}
	want := slices.Sorted(slices.Values(members))
	if got := membersOf(t, s, "watched_users", time.Now()); !slices.Equal(got, want) {
		t.Errorf("members %q, want %q", got, want)
	}
	kv, err := connect(t, srv).KeyValue(t.Context(), "watched_users")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(keys, "u1") {
		t.Errorf("keys %q: u1 is not its own key", keys)
	}
	for _, k := range keys {
		if k != "u1" && !strings.HasPrefix(k, "=") {
			t.Errorf("key %q of an encoded member does not start with =", k)
		}
	}
}

// TestLabelBucketErrors: a bucket name that cannot be a KV bucket is an
// error naming it; an existing bucket without per-key TTLs still works
// (expiry by the caller's clock only).
func TestLabelBucketErrors(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	s := open(t, srv, jsstate.Config{})
	if _, err := s.Members(t.Context(), "bad name", time.Now()); err == nil || !strings.Contains(err.Error(), `"bad name"`) {
		t.Errorf("Members of an invalid bucket: %v, want an error naming it", err)
	}
	js := connect(t, srv)
	if _, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "plain"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.AddMember(t.Context(), "plain", "u1", now, time.Minute); err != nil {
		t.Fatalf("AddMember to a bucket without TTLs: %v", err)
	}
	if got := membersOf(t, s, "plain", now.Add(time.Minute)); len(got) != 0 {
		t.Errorf("members after the expiry = %v, want none", got)
	}
}
