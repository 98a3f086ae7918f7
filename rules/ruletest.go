package rules

import (
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// defaultTestStart is where a rule test's simulated clock starts unless
// the case sets `start`.
func defaultTestStart() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// TestCase is one case of a rule test file (*_test.yaml): events in,
// actions expected out.
type TestCase struct {
	File   string
	Line   int
	Name   string
	Start  time.Time           // the simulated clock's start: `start`, or 2026-01-01T00:00:00Z
	Lists  map[string][]string // members of KV-backed lists for this case, by list name
	Events []TestEvent
	Expect []Expect // the actions expected, in the order they happen
}

// TestEvent is one input event, or a clock step, and the simulated time
// it happens at: its `time`, else the case start plus its `at` offset,
// else the time of the event before it.
type TestEvent struct {
	Event Event
	At    time.Time
	// Step marks a clock step ({at: 11m}): no event (Event is zero),
	// only the simulated clock advancing to At, so that undos fall due.
	Step bool
}

// LoadTests reads and parses one rule test file.
func LoadTests(path string) ([]TestCase, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, ErrorList{{Path: path, Msg: pathErrorText(err)}}
	}
	return ParseTests(path, data)
}

// TestFiles lists the rule test files directly in dir, sorted by name.
func TestFiles(dir string) ([]string, error) {
	files, err := filesIn(dir, IsTestFile)
	if err != nil {
		return nil, fmt.Errorf("list rule tests: %w", err)
	}
	return files, nil
}

// ParseTests parses a rule test file strictly. The error is an ErrorList
// holding every problem found.
func ParseTests(path string, data []byte) ([]TestCase, error) {
	var errs ErrorList
	d := &decoder{path: path, errs: &errs}
	var cases []TestCase
	root := d.parseDocument(data)
	if isNull(root) {
		errs.add(path, 0, 0, "no tests: the file needs a top-level \"tests:\" list")
		return nil, errs.err()
	}
	d.fields(root, "test file", map[string]func(*yaml.Node){
		"tests": func(v *yaml.Node) { cases = d.testCases(v) },
	})
	return cases, errs.err()
}

func (d *decoder) testCases(n *yaml.Node) []TestCase {
	var out []TestCase
	names := make(map[string]bool)
	for _, it := range d.items(n, "tests") {
		tc := d.testCase(it)
		if names[tc.Name] {
			d.errorf(it, "test name %q is used twice", tc.Name)
		}
		names[tc.Name] = true
		out = append(out, tc)
	}
	return out
}

func (d *decoder) testCase(n *yaml.Node) TestCase {
	tc := TestCase{File: d.path, Line: n.Line}
	start := defaultTestStart()
	var events []*yaml.Node
	seen := d.fields(n, "test", map[string]func(*yaml.Node){
		"name":   func(v *yaml.Node) { tc.Name, _ = d.str(v, "name") },
		"start":  func(v *yaml.Node) { start, _ = d.timestamp(v, "start") },
		"lists":  func(v *yaml.Node) { tc.Lists = d.testLists(v) },
		"events": func(v *yaml.Node) { events = d.items(v, "events") },
		"expect": func(v *yaml.Node) { tc.Expect = d.expectations(v) },
	})
	if n.Kind != yaml.MappingNode {
		return tc
	}
	for _, k := range []string{"name", "events", "expect"} {
		if !seen[k] {
			d.errorf(n, "test is missing %q (use expect: [] when nothing should fire)", k)
		}
	}
	tc.Start = start
	clock, count := start, 0
	for _, ev := range events {
		var te TestEvent
		if isClockStep(ev) {
			te = d.clockStep(ev, start, clock)
		} else {
			count++
			te = d.testEvent(ev, start, clock, count)
		}
		clock = te.At
		tc.Events = append(tc.Events, te)
	}
	return tc
}

// testLists reads a case's members of KV-backed lists.
func (d *decoder) testLists(n *yaml.Node) map[string][]string {
	if isNull(n) {
		return nil
	}
	ks, vs := d.entries(n, "lists")
	out := make(map[string][]string, len(ks))
	for i, k := range ks {
		if !d.listName(k) {
			continue
		}
		items := []string{}
		if !isNull(vs[i]) {
			items = append(items, d.strList(vs[i], "list "+k.Value)...)
		}
		out[k.Value] = items
	}
	return out
}

// isClockStep reports whether n is a clock step: a mapping holding only
// at or time.
func isClockStep(n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k != "at" && k != "time" {
			return false
		}
	}
	return true
}

// clockStep reads a clock step; clock is the time of the event before it.
func (d *decoder) clockStep(n *yaml.Node, start, clock time.Time) TestEvent {
	te := TestEvent{At: clock, Step: true}
	var hasTime, hasAt bool
	d.fields(n, "clock step", map[string]func(*yaml.Node){
		"time": func(v *yaml.Node) {
			var t time.Time
			if t, hasTime = d.timestamp(v, "time"); hasTime {
				te.At = t
			}
		},
		"at": func(v *yaml.Node) {
			var off time.Duration
			if off, hasAt = d.offset(v); hasAt {
				te.At = start.Add(off)
			}
		},
	})
	if hasTime && hasAt {
		d.errorf(n, "clock step sets both time and at; use one")
	}
	return te
}

// testEvent reads the count-th event; clock is the time of the event
// before it.
func (d *decoder) testEvent(n *yaml.Node, start, clock time.Time, count int) TestEvent {
	te := TestEvent{Event: Event{ID: fmt.Sprintf("evt-%d", count)}, At: clock}
	ev := &te.Event
	var hasTime, hasAt bool
	seen := d.fields(n, "event", map[string]func(*yaml.Node){
		"id":      func(v *yaml.Node) { ev.ID, _ = d.str(v, "id") },
		"type":    func(v *yaml.Node) { ev.Type, _ = d.str(v, "type") },
		"room_id": func(v *yaml.Node) { ev.RoomID, _ = d.str(v, "room_id") },
		"user":    func(v *yaml.Node) { d.user(v, &ev.User) },
		"seat":    func(v *yaml.Node) { d.seat(v, &ev.Seat) },
		"seats":   func(v *yaml.Node) { ev.Seats = d.seats(v) },
		"attrs":   func(v *yaml.Node) { ev.Attrs = d.attrs(v) },
		"time": func(v *yaml.Node) {
			ev.Time, hasTime = d.timestamp(v, "time")
			te.At = ev.Time
		},
		"at": func(v *yaml.Node) {
			off, ok := d.offset(v)
			te.At, hasAt = start.Add(off), ok
		},
	})
	switch {
	case n.Kind != yaml.MappingNode || seen["type"]:
	case seen["at"] || seen["time"]:
		d.errorf(n, "event is missing \"type\" (a clock step holds only at or time)")
	default:
		d.errorf(n, "event is missing \"type\"")
	}
	if hasTime && hasAt {
		d.errorf(n, "event sets both time and at; use one")
	}
	if !hasTime {
		ev.Time = te.At
	}
	return te
}

// offset reads an `at` offset such as 0s or 90s.
func (d *decoder) offset(n *yaml.Node) (time.Duration, bool) {
	s, ok := d.str(n, "at")
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		d.errorf(n, "at must be an offset from the test's start such as 0s or 90s, got %q", s)
		return 0, false
	}
	return v, true
}

func (d *decoder) user(n *yaml.Node, u *User) {
	d.fields(n, "user", map[string]func(*yaml.Node){
		"id":      func(v *yaml.Node) { u.ID, _ = d.str(v, "user id") },
		"flagged": func(v *yaml.Node) { u.Flagged, _ = d.boolean(v, "flagged") },
		"labels":  func(v *yaml.Node) { u.Labels = d.strList(v, "labels") },
		"score":   func(v *yaml.Node) { u.Score, _ = d.number(v, "score") },
	})
}

func (d *decoder) seat(n *yaml.Node, s *Seat) {
	d.fields(n, "seat", map[string]func(*yaml.Node){
		"index":          func(v *yaml.Node) { s.Index, _ = d.integer(v, "index") },
		"user_id":        func(v *yaml.Node) { s.UserID, _ = d.str(v, "user_id") },
		"taken_disabled": func(v *yaml.Node) { s.TakenDisabled, _ = d.boolean(v, "taken_disabled") },
		"video_disabled": func(v *yaml.Node) { s.VideoDisabled, _ = d.boolean(v, "video_disabled") },
		"audio_disabled": func(v *yaml.Node) { s.AudioDisabled, _ = d.boolean(v, "audio_disabled") },
	})
}

func (d *decoder) seats(n *yaml.Node) []Seat {
	items := d.items(n, "seats")
	out := make([]Seat, len(items))
	for i, it := range items {
		d.seat(it, &out[i])
	}
	return out
}

// attrs reads free-form attributes; numbers become float64, as they
// would from JSON.
func (d *decoder) attrs(n *yaml.Node) map[string]any {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "attrs must be a mapping, got %s", describe(n))
		return nil
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		d.errorf(n, "attrs: %v", err)
		return nil
	}
	for k, v := range m {
		if i, ok := v.(int); ok {
			m[k] = float64(i)
		}
	}
	return m
}
