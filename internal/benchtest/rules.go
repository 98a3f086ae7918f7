package benchtest

import (
	"fmt"
	"strings"
	"time"
)

// NumTypes is how many event types the generated rules and events use.
const NumTypes = 20

// Type returns the i-th event type: the seven types in use, then
// synthetic ones (custom.07 ... custom.19).
func Type(i int) string {
	known := [...]string{"member.enter", "member.leave", "seat.taken", "seat.left",
		"seat.changed", "user.flagged", "message.flagged"}
	i %= NumTypes
	if i < len(known) {
		return known[i]
	}
	return fmt.Sprintf("custom.%02d", i)
}

// RulesYAML returns a rules file of n rules. Rule i listens for Type(i)
// and matches a flagged, high-score user who is not a moderator, on seat
// i/NumTypes: so an event of type t on seat k matches rule k*NumTypes+t
// and no other. Like rules real teams write, no two conditions are the
// same: each also excludes a room of its own (quarantine-<i>, a room no
// generated event is in), so no two rules share a compiled program.
// Every rule renders a lock_seat and has a one-minute cooldown keyed by
// room.
func RulesYAML(n int) []byte { return RulesYAMLCooldown(n, time.Minute) }

// RulesYAMLCooldown is RulesYAML with a cooldown of d, such as an hour
// for a run that must keep every key it fills live to the end.
func RulesYAMLCooldown(n int, d time.Duration) []byte {
	var b strings.Builder
	b.WriteString("lists:\n  moderators: [mod-1, mod-2, mod-3]\n  bad_labels: [spam, abuse, scam]\nrules:\n")
	for i := range n {
		fmt.Fprintf(&b, `  - name: bench-%05d
    on: [%s]
    when: >-
      event.user.flagged && event.user.score > 0.8 && event.seat.index == %d
      && has_any(event.user.labels, lists.bad_labels) && !(event.user.id in lists.moderators)
      && event.room_id != "quarantine-%05d"
    actions:
      - lock_seat: {room_id: event.room_id, index: event.seat.index, forbid_audio: true}
    cooldown: {key: event.room_id, for: %s}
`, i, Type(i), i/NumTypes, i, d)
	}
	return []byte(b.String())
}
