package rules

import (
	"strings"
	"testing"
)

func TestExpressionLimits(t *testing.T) {
	rule := func(when string) string {
		return "rules:\n  - name: r\n    on: [a]\n    when: '" + when + "'\n" +
			"    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]\n"
	}
	t.Run("too many nodes is a load error", func(t *testing.T) {
		when := strings.Repeat("event.user.flagged && ", maxExprNodes) + "true"
		_, err := Compile(Source{Path: "big.yaml", Data: []byte(rule(when))})
		if err == nil || !strings.Contains(err.Error(), "big.yaml:4:") || !strings.Contains(err.Error(), "exceeds maximum allowed nodes") {
			t.Errorf("error = %v, want a positioned node-limit error", err)
		}
	})
	t.Run("the memory budget stops a runaway expression", func(t *testing.T) {
		s := mustCompile(t, rule("len(map(1..10000000, # * 2)) > 0"))
		ms := evalNoState(t, s, &Event{Type: "a"})
		if len(ms) != 1 || ms[0].Err == nil || !strings.Contains(ms[0].Err.Error(), "memory budget exceeded") {
			t.Errorf("matches = %+v, want one memory-budget error", ms)
		}
	})
}
