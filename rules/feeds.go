package rules

import (
	"fmt"
	"time"
)

// Feed is what one event contributes to one window.
type Feed struct {
	Window *Window
	Key    string
	Value  string // the rendered distinct value; "" when the window has none
}

// Feeds renders what ev contributes to the windows listening for its
// type whose when holds, appending to dst, in load order. Call it
// before Eval on the same event, so that rules see the event counted.
// A window whose expression fails at run time on ev is skipped and its
// error (a positioned Error wrapped with the window's name) returned in
// errs; the other windows are still fed. For an event type that no
// window listens for it returns dst and nil at once.
func (e *Evaluator) Feeds(s *Set, ev *Event, now time.Time, dst []Feed) ([]Feed, []error) {
	ws := s.WindowsFor(ev.Type)
	if len(ws) == 0 {
		return dst, nil
	}
	e.begin(s, ev, now, nil)
	defer e.end()
	env := any(&e.env)
	var errs []error
	for _, w := range ws {
		e.env.meter.reset()
		f, ok, err := e.feed(w, env)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("window %q: %w", w.Name, err))
		case ok:
			dst = append(dst, f)
		}
	}
	return dst, errs
}

// feed renders what the event contributes to w, if its when holds.
func (e *Evaluator) feed(w *Window, env any) (Feed, bool, error) {
	if w.when != nil {
		ok, err := e.bool(w.when, env)
		if err != nil || !ok {
			return Feed{}, false, err
		}
	}
	f := Feed{Window: w}
	var err error
	if f.Key, err = e.string(w.key, env); err != nil {
		return Feed{}, false, err
	}
	if w.distinct != nil {
		if f.Value, err = e.string(w.distinct, env); err != nil {
			return Feed{}, false, err
		}
	}
	return f, true, nil
}
