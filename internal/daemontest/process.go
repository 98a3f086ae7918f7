package daemontest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Process is a child process started by a test: a nats-server or the
// roomwarden binary. Its stdout and stderr go to Output.
type Process struct {
	Name   string
	Output *SyncBuffer

	cmd    *exec.Cmd
	exited chan struct{} // closed once Wait on cmd returned
	state  *os.ProcessState
}

// StartProcess starts bin with args and env added to the test's own
// environment. The process is killed when the test ends if it is still
// running.
func StartProcess(t testing.TB, bin string, env []string, out *SyncBuffer, args ...string) *Process {
	t.Helper()
	if out == nil {
		out = &SyncBuffer{}
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	p := &Process{Name: filepath.Base(bin), Output: out, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		close(p.exited)
	}()
	t.Cleanup(p.Kill)
	return p
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process; a process that already exited is
// not an error.
func (p *Process) Signal(sig os.Signal) {
	_ = p.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits for the process to exit.
func (p *Process) Kill() {
	p.Signal(syscall.SIGKILL)
	<-p.exited
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Exit describes how a process ended.
type Exit struct {
	Code   int            // exit code; -1 when killed by a signal
	Signal syscall.Signal // the signal that killed it, if any
}

func (e Exit) String() string {
	if e.Code == -1 {
		return "killed by " + e.Signal.String()
	}
	return fmt.Sprintf("exit code %d", e.Code)
}

// ErrStillRunning is returned by Wait when the process outlives the timeout.
var ErrStillRunning = errors.New("process still running")

// Wait waits up to timeout for the process to exit.
func (p *Process) Wait(timeout time.Duration) (Exit, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		return Exit{}, fmt.Errorf("%s after %s: %w", p.Name, timeout, ErrStillRunning)
	}
	e := Exit{Code: p.state.ExitCode()}
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signal = ws.Signal()
	}
	return e, nil
}

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.exited }

var _ io.Writer = (*SyncBuffer)(nil)
