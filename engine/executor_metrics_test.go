package engine

import (
	"errors"
	"fmt"
	"testing"
)

func TestCallCodeLabel(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{err: &CallError{Code: 60007, Class: Throttled}, want: "60007"},
		{err: fmt.Errorf("wrapped: %w", &CallError{Code: 100004}), want: "100004"},
		{err: &CallError{Code: 12345}, want: "other"},
		{err: &CallError{Status: 502}, want: "http_502"},
		{err: &CallError{Status: 1000}, want: "http_other"},
		{err: &CallError{Err: errors.New("dial tcp: refused")}, want: "transport"},
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
