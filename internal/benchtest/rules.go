package benchtest

import (
	"fmt"
	"strings"
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
// and no other. Every rule renders a lock_seat and has a cooldown keyed
// by room.
func RulesYAML(n int) []byte {
	var b strings.Builder
	b.WriteString("lists:\n  moderators: [mod-1, mod-2, mod-3]\n  bad_labels: [spam, abuse, scam]\nrules:\n")
	for i := range n {
		fmt.Fprintf(&b, `  - name: bench-%05d
    on: [%s]
    when: >-
      event.user.flagged && event.user.score > 0.8 && event.seat.index == %d
      && has_any(event.user.labels, lists.bad_labels) && !(event.user.id in lists.moderators)
    actions:
      - lock_seat: {room_id: event.room_id, index: event.seat.index, forbid_audio: true}
    cooldown: {key: event.room_id, for: 1m}
`, i, Type(i), i/NumTypes)
	}
	return []byte(b.String())
}
