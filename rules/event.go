package rules

import "time"

// Event is the canonical room event as rule expressions see it: `event.*`.
// The engine decodes every wire format (canonical JSON, Tencent callbacks)
// into this one type, so rules are written once against one shape.
type Event struct {
	ID     string         `json:"id" expr:"id"`
	Type   string         `json:"type" expr:"type"`
	Time   time.Time      `json:"time" expr:"time"`
	RoomID string         `json:"room_id" expr:"room_id"`
	User   User           `json:"user" expr:"user"`
	Seat   Seat           `json:"seat" expr:"seat"`
	Seats  []Seat         `json:"seats,omitempty" expr:"seats"`
	Attrs  map[string]any `json:"attrs,omitempty" expr:"attrs"`
}

// User is the member an event is about.
type User struct {
	ID      string   `json:"id" expr:"id"`
	Flagged bool     `json:"flagged" expr:"flagged"`
	Labels  []string `json:"labels,omitempty" expr:"labels"`
	Score   float64  `json:"score" expr:"score"`
}

// Seat is a seat position and, where the event carries it, its state.
type Seat struct {
	Index         int    `json:"index" expr:"index"`
	UserID        string `json:"user_id,omitempty" expr:"user_id"`
	TakenDisabled bool   `json:"taken_disabled,omitempty" expr:"taken_disabled"`
	VideoDisabled bool   `json:"video_disabled,omitempty" expr:"video_disabled"`
	AudioDisabled bool   `json:"audio_disabled,omitempty" expr:"audio_disabled"`
}
