package roomengine

import (
	"testing"

	"github.com/roomwarden/roomwarden/engine"
)

func TestClassify(t *testing.T) {
	want := map[engine.ErrorClass][]int{
		engine.Throttled: {60007, 60011, 60018, 60019},
		engine.Retryable: {100001, 60008, 60014, 60004, 60005, 70169, 70500},
		engine.Permanent: {100002, 100004, 100211, 70001, 70003, 70009, 70013, 70014, 70016, 70020,
			70050, 60010, 60002, 60003, 60006, 60016, 60020, 60021, 60025, 60026, 1, 99999},
	}
	for class, codes := range want {
		for _, code := range codes {
			t.Run(itoa(code), func(t *testing.T) {
				if got := Classify(code); got != class {
					t.Errorf("Classify(%d) = %v, want %v", code, got, class)
				}
			})
		}
	}
}

func TestClassifyStatus(t *testing.T) {
	tests := []struct {
		status int
		want   engine.ErrorClass
	}{
		{500, engine.Retryable}, {502, engine.Retryable}, {504, engine.Retryable}, {429, engine.Retryable},
		{400, engine.Permanent}, {401, engine.Permanent}, {404, engine.Permanent}, {302, engine.Permanent},
	}
	for _, tc := range tests {
		t.Run(itoa(tc.status), func(t *testing.T) {
			if got := classifyStatus(tc.status); got != tc.want {
				t.Errorf("classifyStatus(%d) = %v, want %v", tc.status, got, tc.want)
			}
		})
	}
}
