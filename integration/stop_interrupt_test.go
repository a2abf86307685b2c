package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestStopInterruptedKills: Ctrl-C (SIGINT), SIGTERM or SIGHUP of a `strata stop -t 1` or `strata
// restart -t 1` once the container got its stop signal, which it ignores, still ends the
// container with SIGKILL at the timeout, as docker's daemon finishes the stop its CLI left
// (the CLI exits at once, as docker's). A detached container's monitor kills it, as does the
// `strata run` of a foreground one. The container ran on for ever. The interrupted restart
// starts the container again after the kill, as docker's daemon finishes the whole restart.
func TestStopInterruptedKills(t *testing.T) {
	root := busyboxRoot(t)
	script := "trap 'echo term' TERM; echo ready; while :; do sleep 0.05; done"
	for _, tt := range []struct {
		name, cmd  string
		sig        syscall.Signal
		foreground bool
	}{
		{"si-stop", "stop", syscall.SIGINT, false},
		{"si-restart", "restart", syscall.SIGTERM, false},
		{"si-fg", "stop", syscall.SIGINT, true},
		{"si-hup", "stop", syscall.SIGHUP, false}, // the user's terminal closed
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(func() { strata(t, root, "rm", "-f", tt.name) })
			if tt.foreground {
				run := exec.Command(strataBin, "--root", root, "run", "--name", tt.name, "busybox:1.38.0-musl", "sh", "-c", script)
				if err := run.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = run.Process.Kill(); _ = run.Wait() })
			} else {
				mustStrata(t, root, "run", "-d", "--name", tt.name, "busybox:1.38.0-musl", "sh", "-c", script)
			}
			waitFor(t, func() bool { return strings.Contains(strata(t, root, "logs", tt.name).Stdout, "ready") })
			stop := exec.Command(strataBin, "--root", root, tt.cmd, "-t", "1", tt.name)
			if err := stop.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { _ = stop.Wait(); close(done) }()
			waitFor(t, func() bool { return strings.Contains(strata(t, root, "logs", tt.name).Stdout, "term") })
			if err := stop.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			<-done
			if code := stop.ProcessState.ExitCode(); code != 128+int(tt.sig) {
				t.Errorf("%s interrupted by %v: exit %d, want %d", tt.cmd, tt.sig, code, 128+int(tt.sig))
			}
			if tt.cmd == "restart" {
				// Killed, then started again, as docker's daemon finishes the restart.
				waitFor30(t, func() bool {
					return strings.Count(strata(t, root, "logs", tt.name).Stdout, "ready") == 2
				})
				if out := mustStrata(t, root, "inspect", "-f", "{{.State.Status}}", tt.name).Stdout; out != "running\n" {
					t.Errorf("after the interrupted restart: %q, want running again", out)
				}
				ev := mustStrata(t, root, "events", "--since", "1h", "--until", "0s", "--filter", "container="+tt.name, "--format", "{{.Action}} {{index .Actor.Attributes \"exitCode\"}}").Stdout
				if !strings.Contains(ev, "die 137\n") || !strings.HasSuffix(ev, "restart \n") {
					t.Errorf("events of the interrupted restart:\n%s\nwant a die 137 (SIGKILL), the restart last", ev)
				}
				return
			}
			waitFor30(t, func() bool {
				return strata(t, root, "inspect", "-f", "{{.State.Status}}", tt.name).Stdout == "exited\n"
			})
			if out := mustStrata(t, root, "inspect", "-f", "{{.State.ExitCode}}", tt.name).Stdout; out != "137\n" {
				t.Errorf("exit code after the interrupted %s: %q, want 137 (SIGKILL)", tt.cmd, out)
			}
		})
	}
}

// cldStopped is waitid's si_code for a child stopped by a signal (CLD_STOPPED in the kernel's
// asm-generic/siginfo.h; golang.org/x/sys/unix has no name for it).
const cldStopped = 5

// TestStopInterruptedTwice: a second SIGINT or SIGTERM a moment after the first, which
// interrupted a `strata stop` or `strata restart` waiting for its container to end, does not
// end strata before it has left the process that finishes the stop (the SIGKILL at the
// timeout) or the restart (the start after it): the CLI exits as the first signal says, and
// the container is killed, and started again for restart. strata's root let the second
// signal kill it (Go's default action, the handler reset after the first): the container,
// which ignores its stop signal, ran on, neither killed nor restarted. The CLI stops itself
// (STRATA_TEST_STOP_AT=stop-interrupted) where the first signal has ended its wait and the
// killer is not yet left, and gets the second signal there.
func TestStopInterruptedTwice(t *testing.T) {
	root := busyboxRoot(t)
	script := "trap 'echo term' TERM; echo ready; while :; do sleep 0.05; done"
	for _, tt := range []struct {
		name, cmd string
		second    syscall.Signal
	}{
		{"si2-stop", "stop", syscall.SIGINT},
		{"si2-stop-term", "stop", syscall.SIGTERM},
		{"si2-restart", "restart", syscall.SIGINT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(func() { strata(t, root, "rm", "-f", tt.name) })
			mustStrata(t, root, "run", "-d", "--name", tt.name, "busybox:1.38.0-musl", "sh", "-c", script)
			waitFor(t, func() bool { return strings.Contains(strata(t, root, "logs", tt.name).Stdout, "ready") })
			stop := exec.Command(strataBin, "--root", root, tt.cmd, "-t", "1", tt.name)
			stop.Env = append(os.Environ(), "STRATA_TEST_STOP_AT=stop-interrupted")
			if err := stop.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if stop.ProcessState == nil {
					_ = stop.Process.Kill()
					_ = stop.Wait()
				}
			})
			waitFor(t, func() bool { return strings.Contains(strata(t, root, "logs", tt.name).Stdout, "term") })
			if err := stop.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			var info unix.Siginfo
			if err := unix.Waitid(unix.P_PID, stop.Process.Pid, &info, unix.WSTOPPED|unix.WEXITED|unix.WNOWAIT, nil); err != nil {
				t.Fatal(err)
			}
			if info.Code != cldStopped {
				_ = stop.Wait()
				t.Fatalf("%s interrupted: exit %d before it stopped at stop-interrupted", tt.cmd, stop.ProcessState.ExitCode())
			}
			if err := stop.Process.Signal(tt.second); err != nil {
				t.Fatal(err)
			}
			if err := stop.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			_ = stop.Wait()
			if code := stop.ProcessState.ExitCode(); code != 128+int(syscall.SIGINT) {
				t.Fatalf("%s interrupted by SIGINT then %v: %v, want exit %d", tt.cmd, tt.second, stop.ProcessState, 128+int(syscall.SIGINT))
			}
			if tt.cmd == "restart" {
				waitFor30(t, func() bool {
					return strings.Count(strata(t, root, "logs", tt.name).Stdout, "ready") == 2
				})
				if out := mustStrata(t, root, "inspect", "-f", "{{.State.Status}}", tt.name).Stdout; out != "running\n" {
					t.Errorf("after the restart interrupted twice: %q, want running again", out)
				}
				return
			}
			waitFor30(t, func() bool {
				return strata(t, root, "inspect", "-f", "{{.State.Status}}", tt.name).Stdout == "exited\n"
			})
			if out := mustStrata(t, root, "inspect", "-f", "{{.State.ExitCode}}", tt.name).Stdout; out != "137\n" {
				t.Errorf("exit code after the %s interrupted twice: %q, want 137 (SIGKILL)", tt.cmd, out)
			}
		})
	}
}

// TestStopKilledKills: a `strata stop -t 2` or `strata restart -t 2` SIGKILLed right after it
// sent its container the stop signal, which the container ignores, still ends the container
// with SIGKILL at the timeout, as docker's daemon finishes a stop whatever becomes of its
// CLI; the restart starts it again. The process that does it (spawned before the signal)
// is gone once the container has exited. Before, a stop killed there left nothing: only an
// interrupted one (SIGINT, SIGTERM, SIGHUP) left its killer, and the container ran on for
// ever. The CLI stops itself (STRATA_TEST_STOP_AT=stop-signalled) once it has signalled the
// container, and is SIGKILLed there.
func TestStopKilledKills(t *testing.T) {
	root := busyboxRoot(t)
	script := `trap "" TERM; echo ready; while :; do sleep 1; done`
	for _, tt := range []struct {
		name, cmd      string
		foreground, rm bool
	}{
		{"sk-stop", "stop", false, false},
		{"sk-restart", "restart", false, false},
		{"sk-restart-rm", "restart", false, true}, // kept through the killed restart's exit
		{"sk-fg", "stop", true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(func() { strata(t, root, "rm", "-f", tt.name) })
			if tt.foreground {
				run := exec.Command(strataBin, "--root", root, "run", "--name", tt.name, "busybox:1.38.0-musl", "sh", "-c", script)
				if err := run.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = run.Process.Kill(); _ = run.Wait() })
			} else if tt.rm {
				mustStrata(t, root, "run", "-d", "--rm", "--name", tt.name, "busybox:1.38.0-musl", "sh", "-c", script)
			} else {
				mustStrata(t, root, "run", "-d", "--name", tt.name, "busybox:1.38.0-musl", "sh", "-c", script)
			}
			waitFor(t, func() bool { return strings.Contains(strata(t, root, "logs", tt.name).Stdout, "ready") })
			stop := exec.Command(strataBin, "--root", root, tt.cmd, "-t", "2", tt.name)
			stop.Env = append(os.Environ(), "STRATA_TEST_STOP_AT=stop-signalled")
			if err := stop.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if stop.ProcessState == nil {
					_ = stop.Process.Kill()
					_ = stop.Wait()
				}
			})
			var info unix.Siginfo
			if err := unix.Waitid(unix.P_PID, stop.Process.Pid, &info, unix.WSTOPPED|unix.WEXITED|unix.WNOWAIT, nil); err != nil {
				t.Fatal(err)
			}
			if info.Code != cldStopped {
				_ = stop.Wait()
				t.Fatalf("%s: %v before it stopped at stop-signalled", tt.cmd, stop.ProcessState)
			}
			// Its children (the killer), held by pidfd: stopped, it reaps none of them.
			helpers := childPidfds(t, stop.Process.Pid)
			if err := stop.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = stop.Wait()
			if tt.cmd == "restart" {
				// Killed at the timeout, then started again.
				waitFor30(t, func() bool {
					return strings.Count(strata(t, root, "logs", tt.name).Stdout, "ready") == 2
				})
				if out := mustStrata(t, root, "inspect", "-f", "{{.State.Status}}", tt.name).Stdout; out != "running\n" {
					t.Errorf("after the killed restart: %q, want running again", out)
				}
			} else {
				waitFor30(t, func() bool {
					return strata(t, root, "inspect", "-f", "{{.State.Status}}", tt.name).Stdout == "exited\n"
				})
				if out := mustStrata(t, root, "inspect", "-f", "{{.State.ExitCode}}", tt.name).Stdout; out != "137\n" {
					t.Errorf("exit code after the killed %s: %q, want 137 (SIGKILL)", tt.cmd, out)
				}
			}
			ev := mustStrata(t, root, "events", "--since", "1h", "--until", "0s", "--filter", "container="+tt.name, "--format", "{{.Action}} {{index .Actor.Attributes \"signal\"}}").Stdout
			if n := strings.Count(ev, "kill 9\n"); n != 1 {
				t.Errorf("events after the killed %s:\n%s\nwant one kill 9 (the SIGKILL at the timeout), got %d", tt.cmd, ev, n)
			}
			for pid, fd := range helpers {
				fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
				if n, err := unix.Poll(fds, 30_000); n != 1 {
					t.Errorf("process %d the killed %s spawned still runs after the container exited (%v)", pid, tt.cmd, err)
					_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
				}
			}
		})
	}
}

// childPidfds returns pidfds of the children of process pid, by pid, closed when the test
// ends. pid must not reap them meanwhile (it is stopped).
func childPidfds(t *testing.T, pid int) map[int]int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	fds := map[int]int{}
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if i < 0 || len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		child, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			continue
		}
		fd, err := unix.PidfdOpen(child, 0)
		if err != nil {
			t.Fatalf("pidfd of process %d, a child of %d: %v", child, pid, err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		fds[child] = fd
	}
	return fds
}
