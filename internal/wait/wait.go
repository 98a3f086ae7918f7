// Package wait holds the one context-aware sleep that the executor, the
// intake and the state store share.
package wait

import (
	"context"
	"time"
)

// For waits for d or until ctx is done, whichever comes first, and
// returns ctx's error if ctx ended the wait (or was already done when d
// is not positive).
func For(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
