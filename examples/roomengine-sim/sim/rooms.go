package sim

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/roomwarden/roomwarden/engine"
)

// Seat is one seat's lock state, as get_seat_list spells it.
type Seat struct {
	Index           int  `json:"Index"`
	IsTakenDisabled bool `json:"IsTakenDisabled"`
	IsVideoDisabled bool `json:"IsVideoDisabled"`
	IsAudioDisabled bool `json:"IsAudioDisabled"`
}

// room is one room's seats: indexes 0 to seats-1, or any index for a
// room a lenient simulator created on first use (anySeat).
type room struct {
	seats int
	state map[int]*Seat
}

// anySeat is the seat count of a room that accepts any index.
const anySeat = -1

// AddRoom creates (or resets) a room with seats seats: indexes 0 to
// seats-1 are valid (100002 beyond); 0 means the room has no seats
// (100211). A negative count panics.
func (s *Server) AddRoom(id string, seats int) {
	if seats < 0 {
		panic(fmt.Sprintf("sim: room %q with %d seats", id, seats))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rooms[id] = &room{seats: seats, state: map[int]*Seat{}}
}

// RemoveRoom destroys a room; calls for it then answer 100004 in strict
// mode.
func (s *Server) RemoveRoom(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rooms, id)
}

// Seats returns a room's locked seats by index, and whether it exists.
func (s *Server) Seats(id string) ([]Seat, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[id]
	if r == nil {
		return nil, false
	}
	out := make([]Seat, 0, len(r.state))
	for _, i := range slices.Sorted(maps.Keys(r.state)) {
		out = append(out, *r.state[i])
	}
	return out, true
}

// apply merges the flags a call sets into the seat. Callers hold mu.
func (r *room) apply(index int, taken, video, audio engine.Flag) {
	st := r.state[index]
	if st == nil {
		st = &Seat{Index: index}
		r.state[index] = st
	}
	merge(&st.IsTakenDisabled, taken)
	merge(&st.IsVideoDisabled, video)
	merge(&st.IsAudioDisabled, audio)
}

func merge(dst *bool, f engine.Flag) {
	if f.IsSet() {
		*dst = f.Bool()
	}
}

func (s *Server) handleSeats(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	seats, ok := s.Seats(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "room " + strconv.Quote(id) + " not found"})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		RoomID   string `json:"RoomId"`
		SeatList []Seat `json:"SeatList"`
	}{id, seats})
}

func (s *Server) handleAddRoom(w http.ResponseWriter, r *http.Request) {
	seats := DefaultSeats
	if v := r.URL.Query().Get("seats"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "seats must be a non-negative integer"})
			return
		}
		seats = n
	}
	s.AddRoom(r.PathValue("id"), seats)
	writeJSON(w, http.StatusCreated, map[string]any{"RoomId": r.PathValue("id"), "Seats": seats})
}

func (s *Server) handleRemoveRoom(w http.ResponseWriter, r *http.Request) {
	s.RemoveRoom(r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
