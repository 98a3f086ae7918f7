package decode

import (
	"encoding/json"
	"errors"
	"hash/fnv"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/rules"
)

// FuzzDecodeEvents holds Events to two oracles on every input:
//
//  1. The body itself, against the reference decoder (reference_test.go,
//     built on encoding/json): both refuse it, or both accept it and
//     return the same events, every field compared, attrs included. This
//     covers canonical events and Tencent callbacks alike.
//  2. A canonical event built from values taken from the input and
//     encoded by encoding/json (genEvent): when the values follow the
//     rules, Events must accept the body and return exactly that event;
//     otherwise it must refuse it. Then the body goes through oracle 1.
//
// Refusals must be a *Error with a reason; nothing may panic or hang.
func FuzzDecodeEvents(f *testing.F) {
	for _, pattern := range []string{"testdata/events/*.json", "../../examples/events/*.json"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			f.Add(readFile(f, file))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstReference(t, data)
		body, want, valid := genEvent(data)
		got, err := Events(body, nil)
		switch {
		case valid && err != nil:
			t.Fatalf("refused a valid event %s: %v", body, err)
		case valid && !eventsEqual(got, []rules.Event{want}):
			t.Fatalf("event %s\n got  %+v\nwant %+v", body, got, want)
		case !valid && err == nil:
			t.Fatalf("accepted an invalid event %s: %+v", body, got)
		}
		checkAgainstReference(t, body)
	})
}

// checkAgainstReference decodes data with Events and with refEvents and
// fails unless they agree.
func checkAgainstReference(t *testing.T, data []byte) {
	t.Helper()
	got, err := Events(data, nil)
	want, ok := refEvents(data)
	if err != nil {
		var de *Error
		if !errors.As(err, &de) || de.Reason == "" {
			t.Fatalf("error %v (%T) is not a *Error with a reason", err, err)
		}
		if ok {
			t.Fatalf("refused %q (%v); the reference accepts it as %+v", data, err, want)
		}
		return
	}
	if !ok {
		t.Fatalf("accepted %q as %+v; the reference refuses it", data, got)
	}
	if !json.Valid(data) {
		t.Fatalf("accepted invalid JSON %q", data)
	}
	if !eventsEqual(got, want) {
		t.Fatalf("decoded %q\n got  %+v\nwant %+v", data, got, want)
	}
}

// eventsEqual compares events field by field. Times are equal when they
// are the same instant written with the same offset (time.Parse gives
// each offset its own *Location, which reflect.DeepEqual would tell
// apart).
func eventsEqual(a, b []rules.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if !x.Time.Equal(y.Time) || x.Time.Format(time.RFC3339Nano) != y.Time.Format(time.RFC3339Nano) {
			return false
		}
		x.Time, y.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// genEvent builds a canonical event from fuzz input: the input split at
// 0xff bytes gives the strings (made valid UTF-8, as encoding/json would
// otherwise change them), and a hash of it picks which fields are present
// and the numbers. It returns the body encoding/json makes of it, the
// event Events must return, and whether the values follow the rules
// (independently of both decoders).
func genEvent(data []byte) (body []byte, want rules.Event, valid bool) {
	parts := strings.Split(string(data), "\xff")
	defaults := [...]string{"evt-1", "", "room-1", "u1", "u2", "label", "key", "value", ""}
	str := func(i int) string {
		if i < len(parts) && parts[i] != "" {
			return strings.ToValidUTF8(parts[i], "\uFFFD")
		}
		return defaults[i]
	}
	h := fnv.New64a()
	h.Write(data)
	bits := h.Sum64()
	has := func(bit uint) bool { return bits&(1<<bit) != 0 }
	num := func(shift uint, n uint64) int64 { return int64(bits>>shift) % int64(n) }

	type genSeat struct {
		Index         *int64  `json:"index,omitempty"`
		UserID        *string `json:"user_id,omitempty"`
		AudioDisabled bool    `json:"audio_disabled,omitempty"`
	}
	type genUser struct {
		ID      *string  `json:"id,omitempty"`
		Flagged bool     `json:"flagged"`
		Labels  []string `json:"labels,omitempty"`
		Score   float64  `json:"score"`
	}
	var ev struct {
		ID     *string        `json:"id,omitempty"`
		Type   string         `json:"type"`
		Time   *time.Time     `json:"time,omitempty"`
		RoomID *string        `json:"room_id,omitempty"`
		User   *genUser       `json:"user,omitempty"`
		Seat   *genSeat       `json:"seat,omitempty"`
		Seats  []genSeat      `json:"seats,omitempty"`
		Attrs  map[string]any `json:"attrs,omitempty"`
		Extra  string         `json:"producer_extra,omitempty"`
	}
	valid = true
	id := func(s string, maxBytes int) *string {
		raw, _ := json.Marshal(s)
		valid = valid && refIDOK(raw, s, maxBytes)
		return &s
	}

	types := [...]string{"seat.taken", "seat.left", "seat.changed", "member.enter", "user.flagged", "custom"}
	want.Type = str(1)
	if want.Type == "" {
		want.Type = types[num(40, uint64(len(types)))]
	}
	ev.Type = want.Type
	if has(0) {
		ev.ID = id(str(0), MaxEventIDBytes)
		want.ID = *ev.ID
	}
	if has(1) || has(12) || has(13) { // 7 in 8
		ev.RoomID = id(str(2), MaxRoomIDBytes)
		want.RoomID = *ev.RoomID
	}
	if has(2) {
		ev.User = &genUser{Flagged: has(3), Score: float64(num(8, 2001)-1000) / 100}
		if has(4) {
			ev.User.ID = id(str(3), MaxUserIDBytes)
			want.User.ID = *ev.User.ID
		}
		if has(5) {
			ev.User.Labels = []string{str(5), "spam"}
		}
		want.User.Flagged, want.User.Labels, want.User.Score = ev.User.Flagged, ev.User.Labels, ev.User.Score
	}
	seat := func(shift uint) (genSeat, rules.Seat) {
		var g genSeat
		var s rules.Seat
		index := num(shift, 1100) - 50                    // -50 .. 1049: 1 in 11 out of range
		if has(shift-1) || has(shift-4) || has(shift-5) { // 1 in 8 without an index
			g.Index = &index
			s.Index = int(index)
			valid = valid && index >= 0 && index <= MaxSeatIndex
		} else {
			valid = false
		}
		if has(shift - 2) {
			g.UserID = id(str(4), MaxUserIDBytes)
			s.UserID = *g.UserID
		}
		g.AudioDisabled, s.AudioDisabled = has(shift-3), has(shift-3)
		return g, s
	}
	if has(6) || has(14) {
		var g genSeat
		g, want.Seat = seat(20)
		ev.Seat = &g
	}
	if has(7) {
		g, s := seat(30)
		ev.Seats, want.Seats = []genSeat{g}, []rules.Seat{s}
	}
	if has(8) {
		// -1e10 .. 1e10 seconds: a quarter of them before 1970.
		tm := time.Unix(num(41, 2e10)-5e9, num(12, 1e9)).UTC()
		ev.Time, want.Time = &tm, tm
		valid = valid && tm.Unix() >= 0
	}
	if has(9) {
		ev.Attrs = map[string]any{str(6): str(7), "n": float64(num(10, 1000)), "ok": has(10)}
		want.Attrs = ev.Attrs
	}
	if has(11) {
		ev.Extra = str(8) // unknown fields are ignored
	}

	switch want.Type {
	case "member.enter", "member.leave", "seat.taken", "seat.left", "seat.changed":
		valid = valid && want.RoomID != ""
	}
	if (want.Type == "seat.taken" || want.Type == "seat.left") && ev.Seat == nil {
		valid = false
	}
	body, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return body, want, valid
}

// TestGenEventMakesValidEvents keeps FuzzDecodeEvents's second oracle
// from being vacuous: over the seed corpus, the generator must produce
// both valid events (which Events accepts) and invalid ones.
func TestGenEventMakesValidEvents(t *testing.T) {
	seeds, err := filepath.Glob("testdata/fuzz/FuzzDecodeEvents/*")
	if err != nil {
		t.Fatal(err)
	}
	inputs := [][]byte{nil, []byte("a"), []byte("evt-1\xfftype\xffroom-1\xffu1\xffu2\xfflabel\xffk\xffv")}
	for _, s := range seeds {
		inputs = append(inputs, readFile(t, s))
	}
	for i := range 200 {
		inputs = append(inputs, []byte{byte(i), byte(i >> 3), 'x', 0xff, 'r'})
	}
	nValid, nInvalid := 0, 0
	for _, in := range inputs {
		body, want, valid := genEvent(in)
		got, err := Events(body, nil)
		if valid {
			nValid++
			if err != nil || !eventsEqual(got, []rules.Event{want}) {
				t.Errorf("valid event %s: got %+v, %v; want %+v", body, got, err, want)
			}
		} else {
			nInvalid++
			if err == nil {
				t.Errorf("invalid event %s accepted: %+v", body, got)
			}
		}
	}
	t.Logf("%d inputs: %d valid events, %d invalid", len(inputs), nValid, nInvalid)
	if nValid < len(inputs)/10 || nInvalid < len(inputs)/10 {
		t.Errorf("%d valid and %d invalid events of %d: want at least a tenth of each", nValid, nInvalid, len(inputs))
	}
}
