package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// TestDeletedRuleFileIsHeldBackNotFailed deletes a rules file from the
// running daemon's directory: the loss is held back until the directory
// has stayed unchanged for a recheck period (a file caught between a
// truncation and a write looks the same), and meanwhile the daemon stays
// ready, since nothing failed. Then the file's rules are gone.
func TestDeletedRuleFileIsHeldBackNotFailed(t *testing.T) {
	h := daemontest.New(t)
	h.Start()
	if err := os.Remove(filepath.Join(h.RulesDir, "spam-seat.yaml")); err != nil {
		t.Fatal(err)
	}
	// Asked to reload at once, the daemon holds the loss back.
	code, body := h.Post("/-/reload", "")
	if code != 200 || !strings.Contains(body, `"pending": "`) || !strings.Contains(body, "spam-seat.yaml lost all its rules") {
		t.Fatalf("POST /-/reload = %d %s, want 200 with the loss pending", code, body)
	}
	if !strings.Contains(h.Logs.String(), "rules change held back") {
		t.Errorf("the log does not say the change was held back:\n%s", h.Logs.String())
	}
	if code, body := h.Get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d while a deletion is held back, want 200: %s", code, body)
	}
	deadline := time.Now().Add(waitLong)
	for {
		_, body := h.Get("/rules")
		if !strings.Contains(body, "spam-seat.yaml") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spam-seat.yaml's rules still in force after %v:\n%s", waitLong, body)
		}
		if code, body := h.Get("/readyz"); code != 200 {
			t.Fatalf("/readyz = %d while a deletion is held back, want 200: %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v := h.Metric("roomwarden_rules_last_reload_successful"); v != 1 {
		t.Errorf("roomwarden_rules_last_reload_successful = %v, want 1", v)
	}
}
