package wait

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := For(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep with a cancelled context = %v, want context.Canceled", err)
	}
	if err := For(context.Background(), time.Microsecond); err != nil {
		t.Errorf("short sleep = %v, want nil", err)
	}
}
