package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/sinks/roomengine"
)

func TestRunServesAndStops(t *testing.T) {
	const key = "main-test-secret"
	t.Setenv("RW_SIM_TEST_KEY", key)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan int, 1)
	var logs bytes.Buffer
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-secret-key-env", "RW_SIM_TEST_KEY",
			"-admins", "admin", "-rooms", "room-a", "-seats", "2", "-log-format", "json"}, &logs, ready)
	}()
	addr := <-ready
	c, err := roomengine.New(roomengine.Config{Endpoint: "http://" + addr, SDKAppID: 1400000000, Identifier: "admin", SecretKey: []byte(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.LockSeat(t.Context(), engine.LockSeat{RoomID: "room-a", Index: 1, ForbidAudio: engine.True}); err != nil {
		t.Errorf("lock_seat on a created room: %v", err)
	}
	var ce *engine.CallError
	_, err = c.LockSeat(t.Context(), engine.LockSeat{RoomID: "room-b", Index: 1, ForbidAudio: engine.True})
	if !errors.As(err, &ce) || ce.Code != 100004 {
		t.Errorf("lock_seat on a room not in -rooms: %v, want 100004", err)
	}
	_, err = c.LockSeat(t.Context(), engine.LockSeat{RoomID: "room-a", Index: 2, ForbidAudio: engine.True})
	if !errors.As(err, &ce) || ce.Code != 100002 {
		t.Errorf("lock_seat on seat 2 of a room with -seats 2: %v, want 100002", err)
	}
	resp, err := http.Get("http://" + addr + "/rooms/room-a/seats")
	if err != nil {
		t.Fatal(err)
	}
	var seats struct{ SeatList []struct{ Index int } }
	json.NewDecoder(resp.Body).Decode(&seats)
	resp.Body.Close()
	if len(seats.SeatList) != 1 || seats.SeatList[0].Index != 1 {
		t.Errorf("seats = %+v, want seat 1", seats)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
}

func TestRunBadStart(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("k\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"-nope"}, 2, "flag provided but not defined"},
		{"no secret", []string{"-secret-key-env", "RW_SIM_TEST_UNSET_VAR"}, 1, "RW_SIM_TEST_UNSET_VAR is empty or unset"},
		{"bad listen", []string{"-secret-key-file", keyFile, "-listen", "127.0.0.1:notaport"}, 1, "listen"},
		{"negative seats", []string{"-secret-key-file", keyFile, "-seats", "-1"}, 1, "-seats -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := run(t.Context(), tc.args, &stderr, nil); got != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("run = %d, stderr %q; want %d and %q", got, stderr.String(), tc.code, tc.want)
			}
		})
	}
}
