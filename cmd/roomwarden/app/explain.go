package app

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/decode"
	"github.com/roomwarden/roomwarden/engine/state"
)

// handleExplain is POST /explain: the body is one event (canonical JSON
// or a Tencent callback that maps to one event); the answer says what
// every rule listening for its type would decide on the live state, and
// why. It reads the state and changes nothing.
func (a *App) handleExplain(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, decode.MaxEventBytes+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "read the event: " + err.Error()})
		return
	}
	evs, err := decode.Events(body, nil)
	switch {
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	case len(evs) != 1:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": fmt.Sprintf(
			"the body holds %d events (a callback listing several members); explain one of them as a canonical event", len(evs))})
		return
	}
	ev := &evs[0]
	now := time.Now()
	if ev.ID == "" {
		ev.ID = "explain"
	}
	if ev.Time.IsZero() {
		ev.Time = now
	}
	ex, err := engine.Explain(r.Context(), a.store, a.watcher.Current(), ev, now)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, state.ErrUnavailable) {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]any{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, ex)
}
