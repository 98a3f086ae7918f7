package natspub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Dead-letter stream settings used by EnsureStream.
const (
	DLQMaxAge     = 30 * 24 * time.Hour
	DLQMaxBytes   = 1 << 30 // 1 GiB; the oldest dead letters go first
	DLQDuplicates = 10 * time.Minute
)

// EnsureStream creates the stream name on subject if it does not exist,
// with the given JetStream replicas: file storage, dead letters kept for DLQMaxAge up to DLQMaxBytes, and a
// DLQDuplicates window for Nats-Msg-Id deduplication. An existing stream
// is left as it is, so operators may tune it.
func EnsureStream(ctx context.Context, js jetstream.JetStream, name, subject string, replicas int) error {
	_, err := js.Stream(ctx, name)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("look up stream %s: %w", name, err)
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        name,
		Description: "roomwarden dead letters: exhausted actions and malformed events",
		Subjects:    []string{subject},
		Storage:     jetstream.FileStorage,
		MaxAge:      DLQMaxAge,
		MaxBytes:    DLQMaxBytes,
		Discard:     jetstream.DiscardOld,
		Duplicates:  DLQDuplicates,
		Replicas:    max(replicas, 1),
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("create stream %s on %s: %w", name, subject, err)
	}
	return nil
}
