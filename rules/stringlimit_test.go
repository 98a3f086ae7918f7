package rules

import (
	"strings"
	"testing"
)

// TestStringLimits checks that strings built with + and repeat() are
// bounded (expr's memory budget does not see them in time) while + keeps
// its meaning and its load-time type checks.
func TestStringLimits(t *testing.T) {
	rule := func(when string) string {
		return "rules:\n  - name: r\n    on: [a]\n    when: '" + when + "'\n" +
			"    actions: [{lock_seat: {room_id: '\"p-\" + event.room_id', index: 1, forbid_audio: true}}]\n"
	}
	ev := &Event{Type: "a", RoomID: "r", Attrs: map[string]any{"a": 1.0, "b": 2.0, "s": "x"}}
	tests := []struct {
		name, when string
		wantMatch  bool
		wantErr    string // at run time
	}{
		{"doubling string stops at the bound", `len(reduce(1..40, #acc + #acc, "x")) > 0`, false, "memory budget exceeded"},
		{"doubling an attribute stops at the bound", `len(reduce(1..40, #acc + #acc, event.attrs["s"])) > 0`, false, "memory budget exceeded"},
		{"string + string", `event.room_id + "-x" == "r-x"`, true, ""},
		{"attribute + string", `event.attrs["s"] + "!" == "x!"`, true, ""},
		{"attribute numbers still add", `event.attrs["a"] + event.attrs["b"] == 3`, true, ""},
		{"ints still add", `1 + 2 == 3`, true, ""},
		{"repeat of a long string stops at the bound", `len(repeat("` + strings.Repeat("x", 1000) + `", 1000000)) > 0`, false, "memory budget exceeded"},
		{"repeat within the bound", `repeat("ab", 3) == "ababab"`, true, ""},
		{"negative repeat", `repeat("ab", -1) == ""`, false, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustCompile(t, rule(tc.when))
			ms := evalNoState(t, s, ev)
			switch {
			case tc.wantErr != "":
				if len(ms) != 1 || ms[0].Err == nil || !strings.Contains(ms[0].Err.Error(), tc.wantErr) {
					t.Errorf("matches = %+v, want one error containing %q", ms, tc.wantErr)
				}
			case tc.wantMatch:
				if len(ms) != 1 || ms[0].Err != nil || ms[0].Actions[0].LockSeat.RoomID != "p-r" {
					t.Errorf("matches = %+v, want one match acting on room p-r", ms)
				}
			}
		})
	}
	t.Run("string + int is still a load error", func(t *testing.T) {
		_, err := Compile(Source{Path: "bad.yaml", Data: []byte(rule(`event.room_id + 1 == "x"`))})
		if err == nil || !strings.Contains(err.Error(), "bad.yaml:4:") {
			t.Errorf("error = %v, want a positioned load error", err)
		}
	})
}
