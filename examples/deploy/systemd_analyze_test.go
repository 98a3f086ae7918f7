package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSystemdAnalyze has systemd itself read the unit, where
// systemd-analyze is installed: no unknown or invalid setting, and an
// exposure level of at most 2.0 ("OK") in `systemd-analyze security`.
// The binary is swapped for /bin/true, which verify wants to exist.
func TestSystemdAnalyze(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	data, err := os.ReadFile("systemd/roomwarden.service")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "roomwarden.service")
	text := strings.ReplaceAll(string(data), "/usr/local/bin/roomwarden", "/bin/true")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command("systemd-analyze", "security", "--offline=true", "--threshold=20", path).CombinedOutput()
	level := regexp.MustCompile(`Overall exposure level for roomwarden\.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || level == nil {
		t.Errorf("systemd-analyze security: exposure above 2.0, or no verdict (%v):\n%s", err, out)
	} else {
		t.Logf("exposure level %s", level[1])
	}
}
