package executor

import (
	"github.com/roomwarden/roomwarden/engine"

	"errors"
	"fmt"
	"testing"
)

func TestCallCodeLabel(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{err: &engine.CallError{Code: 60007, Class: engine.Throttled}, want: "60007"},
		{err: fmt.Errorf("wrapped: %w", &engine.CallError{Code: 100004}), want: "100004"},
		{err: &engine.CallError{Code: 12345}, want: "other"},
		{err: &engine.CallError{Status: 502}, want: "http_502"},
		{err: &engine.CallError{Status: 1000}, want: "http_other"},
		{err: &engine.CallError{Err: errors.New("dial tcp: refused")}, want: "transport"},
		{err: errors.New("boom"), want: "error"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := callCodeLabel(tc.err); got != tc.want {
				t.Errorf("callCodeLabel(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}
