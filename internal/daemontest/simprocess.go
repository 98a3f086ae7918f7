package daemontest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
)

// simPackage is the import path of the Room Engine simulator command.
const simPackage = "github.com/roomwarden/roomwarden/examples/roomengine-sim"

// BuildSimulator builds the roomengine-sim binary into dir and returns
// its path.
func BuildSimulator(dir string) (string, error) {
	bin := filepath.Join(dir, "roomengine-sim")
	cmd := exec.Command("go", "build", "-o", bin, simPackage)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", simPackage, err, out)
	}
	return bin, nil
}

// SimProcess is the Room Engine simulator running as its own process,
// strict, with the harness's credentials, as the real API is a remote
// service: it stamps each call's arrival on its own clock, without the
// scheduling of the test process (which, under -race and beside several
// daemons on two cores, delays and bunches the stamps of an in-process
// simulator by tens of milliseconds). Its call record is its log: one
// JSON line per call.
type SimProcess struct {
	*Process
	URL string
	t   testing.TB
}

// StartSimProcess runs the simulator binary on a free loopback port,
// accepting admins as App administrators and at most limit calls in any
// rolling second (60007 beyond; negative: no limit), with more of its
// flags in extra (such as -lenient), and waits until it listens. The
// harness's secret key must be in SecretEnv (New sets it).
func StartSimProcess(t testing.TB, bin string, admins []string, limit int, extra ...string) *SimProcess {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	args := append([]string{"-listen", addr, "-sdkappid", strconv.Itoa(AppID),
		"-secret-key-env", SecretEnv, "-admins", strings.Join(admins, ","), "-limit", strconv.Itoa(limit),
		"-log-format", "json"}, extra...)
	p := StartProcess(t, bin, nil, nil, args...)
	WaitListening(t, addr, p)
	return &SimProcess{Process: p, URL: "http://" + addr, t: t}
}

// AddRooms creates rooms with sim.DefaultSeats seats (POST /rooms/{id}).
func (s *SimProcess) AddRooms(ids ...string) {
	s.t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	for _, id := range ids {
		resp, err := c.Post(s.URL+"/rooms/"+url.PathEscape(id), "", nil)
		if err != nil {
			s.t.Fatalf("simulator: add room %s: %v", id, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			s.t.Fatalf("simulator: add room %s: status %d", id, resp.StatusCode)
		}
	}
}

// simLogLine is the part of the simulator's lock_seat log line a Call
// is read from.
type simLogLine struct {
	Time       time.Time `json:"time"`
	Msg        string    `json:"msg"`
	RoomID     string    `json:"room_id"`
	Index      int       `json:"index"`
	Identifier string    `json:"identifier"`
	Code       int       `json:"code"`
	HTTPStatus int       `json:"http_status"`
	RequestID  string    `json:"request_id"`
}

// Calls reads the calls the simulator has logged so far, oldest first.
// A call's Time is when the simulator logged it, microseconds after it
// stamped the arrival.
func (s *SimProcess) Calls() []sim.Call {
	var out []sim.Call
	sc := bufio.NewScanner(strings.NewReader(s.Output.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l simLogLine
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Msg != "lock_seat" {
			continue
		}
		out = append(out, sim.Call{Time: l.Time, RoomID: l.RoomID, Index: l.Index, Identifier: l.Identifier,
			Code: l.Code, HTTPStatus: l.HTTPStatus, RequestID: l.RequestID})
	}
	return out
}

// MaxReceivedInWindow is the most calls whose arrivals fall in any
// half-open window [t, t+window), as sim.Server's.
func MaxReceivedInWindow(calls []sim.Call, window time.Duration) int {
	return sim.MaxReceivedIn(calls, window)
}
