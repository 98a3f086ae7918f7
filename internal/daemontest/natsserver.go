package daemontest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// RequireNATSServerEnv, set to 1, turns a missing nats-server binary
// from a skip into a failure (CI sets it).
const RequireNATSServerEnv = "ROOMWARDEN_REQUIRE_NATS_SERVER"

// processWait bounds how long a helper waits for a process to start
// listening or to exit.
const processWait = 30 * time.Second

// NATSServerBinary finds the nats-server binary on PATH or in
// $(go env GOPATH)/bin. When it is missing the test is skipped, or
// fails if RequireNATSServerEnv is 1.
func NATSServerBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(string(trimNewline(out))) {
			p := filepath.Join(dir, "bin", "nats-server")
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
	}
	msg := "nats-server not found on PATH or in $(go env GOPATH)/bin: " +
		"go install github.com/nats-io/nats-server/v2@v2.15.2"
	if os.Getenv(RequireNATSServerEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// NATSServer is a real nats-server process with JetStream, on a fixed
// loopback port and store directory, so that it can be stopped and
// started again with its streams and consumers intact.
type NATSServer struct {
	t        testing.TB
	bin      string
	Port     int
	StoreDir string
	Logs     *SyncBuffer // the server's own output, across restarts

	proc *Process
}

// StartNATSServer starts nats-server -js on a free loopback port, storing
// JetStream data under storeDir, and stops it when the test ends.
func StartNATSServer(t testing.TB, storeDir string) *NATSServer {
	t.Helper()
	s := &NATSServer{t: t, bin: NATSServerBinary(t), Port: FreePort(t), StoreDir: storeDir, Logs: &SyncBuffer{}}
	s.Start()
	t.Cleanup(func() {
		if s.proc != nil {
			s.proc.Kill()
		}
	})
	return s
}

// URL is the server's client URL.
func (s *NATSServer) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.Port) }

// Start starts the server (again) and waits until it accepts connections.
func (s *NATSServer) Start() {
	s.t.Helper()
	if s.proc != nil {
		s.t.Fatal("nats-server: already running")
	}
	s.proc = StartProcess(s.t, s.bin, nil, s.Logs,
		"-a", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-js", "-sd", s.StoreDir)
	WaitListening(s.t, fmt.Sprintf("127.0.0.1:%d", s.Port), s.proc)
}

// Stop stops the server gracefully (SIGTERM) and waits for it to exit.
func (s *NATSServer) Stop() {
	s.t.Helper()
	if s.proc == nil {
		return
	}
	s.proc.Signal(syscall.SIGTERM)
	if _, err := s.proc.Wait(processWait); err != nil {
		s.t.Fatalf("nats-server stop: %v", err)
	}
	s.proc = nil
}

// Restart stops the server and starts it again on the same port and store.
func (s *NATSServer) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	return FreePorts(t, 1)[0]
}

// FreePorts returns n distinct loopback TCP ports that were free a
// moment ago. They are held open until all are chosen: a port closed
// at once can be handed out again by the next request.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// WaitListening waits until addr accepts TCP connections, failing the
// test if p exits first or processWait passes.
func WaitListening(t testing.TB, addr string, p *Process) {
	t.Helper()
	deadline := time.Now().Add(processWait)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if p.Exited() {
			t.Fatalf("%s exited before listening on %s:\n%s", p.Name, addr, p.Output.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %s after %s", p.Name, addr, processWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
