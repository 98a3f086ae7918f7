package engine

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

// EventOwnAction is the event type of roomwarden's own successful
// actions. Windows listening for it count them, so that rules can read
// their history with a user: an escalating `for` reads how often this
// user was locked before. The event is the one that asked for the
// action, with this type, the id <event id>/<rule>/<action kind>, and
// attrs.rule and attrs.action added.
const EventOwnAction = "roomwarden.action"

// FeedOwnAction records a's success (at t) in the windows of set that
// listen for EventOwnAction, with ev, the event that asked for it. The
// store records each action once per window and key, so a redelivered
// event does not count twice. It returns the windows that failed on the
// event (skipped, like any window that fails), and an error if the
// store could not be reached.
func FeedOwnAction(ctx context.Context, store state.Windows, eval *rules.Evaluator, set *rules.Set,
	ev rules.Event, a Action, t time.Time) ([]error, error) {
	own := ownActionEvent(ev, a)
	feeds, errs := eval.Feeds(set, &own, t, nil)
	for _, f := range feeds {
		_, err := store.Feed(ctx, state.Feed{Window: f.Window.Name, Key: f.Key, EventID: own.ID, Value: f.Value,
			Span: f.Window.For, At: t}, f.Window.HasDistinct)
		if err != nil {
			return errs, fmt.Errorf("window %s: %w", f.Window.Name, err)
		}
	}
	return errs, nil
}

// ownActionEvent is the event of roomwarden's own action a, asked for
// by ev.
func ownActionEvent(ev rules.Event, a Action) rules.Event {
	own := ev
	own.Type = EventOwnAction
	own.ID = ev.ID + "/" + a.Rule + "/" + a.Kind + "/" + strconv.Itoa(a.Params.Index)
	own.Attrs = make(map[string]any, len(ev.Attrs)+2)
	maps.Copy(own.Attrs, ev.Attrs)
	own.Attrs["rule"] = a.Rule
	own.Attrs["action"] = a.Kind
	return own
}
