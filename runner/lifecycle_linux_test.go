package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner/cgroups"
	"golang.org/x/sys/unix"
)

// testContainer creates a container in a temp store running args over alpine, and removes
// it (killing it if needed) when the test ends.
func testContainer(t *testing.T, s *Store, name string, args ...string) *Container {
	t.Helper()
	spec := testSpec(t, args...)
	// The container dir comes from the store; move the overlay's upper and work into it.
	c, err := s.Create(Config{Spec: spec, Image: "alpine:3.20.3", Name: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Remove(context.Background(), c, true); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(filepath.Join(c.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c.Config.Spec.Root[0].Options = []string{
		spec.Root[0].Options[0],
		"upperdir=" + filepath.Join(c.Dir, "upper"), "workdir=" + filepath.Join(c.Dir, "work"),
	}
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDetachedLifecycle(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "web", "sh", "-c", "echo out; echo err >&2; exec sleep 1000")
	ctx := context.Background()
	if err := Start(ctx, c); err != nil {
		t.Fatalf("Start = %v", err)
	}
	got, err := s.Get("web")
	if err != nil {
		t.Fatal(err)
	}
	if got.State.Status != StatusRunning || !got.State.Running() || got.State.Pid <= 0 {
		t.Fatalf("state after Start = %+v, want running with a pid", got.State)
	}
	pid := got.State.Pid
	if err := s.Remove(ctx, got, false); !errors.Is(err, ErrRunning) {
		t.Errorf("Remove(running, force=false) = %v, want ErrRunning", err)
	}

	// The output reaches log.json asynchronously: follow until both lines are there.
	var stdout, stderr bytes.Buffer
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	for lctx.Err() == nil && (!strings.Contains(stdout.String(), "out") || !strings.Contains(stderr.String(), "err")) {
		stdout.Reset()
		stderr.Reset()
		if err := Logs(lctx, got, LogOptions{}, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		time.Sleep(pollInterval)
	}
	cancel()
	if stdout.String() != "out\n" || stderr.String() != "err\n" {
		t.Errorf("Logs = %q, %q, want out and err on their own streams", stdout.String(), stderr.String())
	}

	// sleep as PID 1 has no SIGTERM handler, so the kernel ignores it: Stop must escalate.
	if err := Stop(ctx, got, 200*time.Millisecond); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if err := got.Reload(); err != nil {
		t.Fatal(err)
	}
	if got.State.Status != StatusExited || got.State.ExitCode != 128+9 {
		t.Errorf("state after Stop = %+v, want exited with 137", got.State)
	}
	if err := unix.Kill(pid, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("container pid %d still exists after Stop: %v", pid, err)
	}
	if _, err := cgroups.Load(got.ID); !errors.Is(err, cgroups.ErrNotFound) {
		t.Errorf("cgroup after Stop: %v, want ErrNotFound", err)
	}
	if err := s.Remove(ctx, got, false); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	if _, err := os.Stat(got.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("container dir after Remove: %v", err)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), got.ID) {
		t.Errorf("host mountinfo mentions %s after Remove", got.ID)
	}
}

func TestDetachedExitAndRestart(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "sh", "-c", "echo run; exit 5")
	ctx := context.Background()
	for i := 1; i <= 2; i++ {
		if err := Start(ctx, c); err != nil {
			t.Fatalf("Start #%d = %v", i, err)
		}
		code, err := Wait(ctx, c)
		if err != nil || code != 5 {
			t.Fatalf("Wait #%d = %d, %v, want 5", i, code, err)
		}
	}
	var out, errOut bytes.Buffer
	if err := Logs(ctx, c, LogOptions{Tail: 1, Timestamps: true}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "run\n"); n != 1 {
		t.Errorf("Logs(Tail 1) = %q, want one line", out.String())
	}
	if _, err := time.Parse(time.RFC3339Nano, strings.Fields(out.String())[0]); err != nil {
		t.Errorf("Logs(Timestamps) line %q does not start with a timestamp: %v", out.String(), err)
	}
	d := Inspect(c)
	if d.State.Status != "exited" || d.State.ExitCode != 5 || d.State.Running || d.Name != "/"+c.Config.Name {
		t.Errorf("Inspect = %+v", d.State)
	}
}

func TestDetachedStartError(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "nosuchcmd")
	err = Start(context.Background(), c)
	var ec *ExitCodeError
	if !errors.As(err, &ec) || ec.Code != ExitNotFound {
		t.Fatalf("Start(nosuchcmd) = %v, want exit code 127", err)
	}
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if c.State.Status != StatusExited || c.State.ExitCode != ExitNotFound {
		t.Errorf("state = %+v, want exited 127", c.State)
	}
}

func TestDetachedAutoRemove(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "true")
	c.Config.AutoRemove = true
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	if err := Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if _, err := os.Stat(c.Dir); errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(pollInterval)
	}
	t.Errorf("container dir %s still exists after its --rm container exited", c.Dir)
}

func TestRunContainerRecordsState(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "fg", "sh", "-c", "exit 9")
	code, err := RunContainer(context.Background(), c, Stdio{})
	if err != nil || code != 9 {
		t.Fatalf("RunContainer = %d, %v, want 9", code, err)
	}
	got, err := s.Get(c.ID[:8])
	if err != nil {
		t.Fatal(err)
	}
	if got.State.Status != StatusExited || got.State.ExitCode != 9 || got.State.StartedAt.IsZero() || got.State.FinishedAt.IsZero() {
		t.Errorf("state = %+v, want exited 9 with times", got.State)
	}
}

func TestLogsFollow(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.1; done")
	if err := Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	// Follow returns by itself once the container has exited and the log is drained.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	if err := Logs(ctx, c, LogOptions{Follow: true}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Logs(Follow) did not return after the container exited")
	}
	if out.String() != "line1\nline2\nline3\n" {
		t.Errorf("Logs(Follow) = %q, want the three lines", out.String())
	}
}

func TestDetachedOOMKilled(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' x); echo survived")
	c.Config.Spec.Resources = cgroups.Resources{Memory: 16 << 20, MemorySwap: 16 << 20}
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	if err := Start(context.Background(), c); err != nil {
		if errors.Is(err, cgroups.ErrUnsupported) {
			t.Skipf("skipping: memory limit not enforceable here: %v", err)
		}
		t.Fatal(err)
	}
	code, err := Wait(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !c.State.OOMKilled || code == 0 {
		t.Errorf("state after exceeding 16m = %+v, want OOMKilled and a non-zero exit", c.State)
	}
}

func TestDetachedUnknownUser(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "true")
	c.Config.Spec.User = "nosuchuser"
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	err = Start(context.Background(), c)
	var ec *ExitCodeError
	if !errors.As(err, &ec) || ec.Code != ExitOwnError || !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("Start(-u nosuchuser) = %v, want 125 wrapping ErrUnknownUser", err)
	}
}

func TestDetachedMonitorDies(t *testing.T) {
	// Without a daemon, the monitor is the container's only keeper: if it is killed, the
	// container dies with it (parent-death signal) and reads as exited, not running forever.
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "sleep", "1000")
	if err := Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	pid, monitor := c.State.Pid, c.State.MonitorPid
	if pid <= 0 || monitor <= 0 || monitor == os.Getpid() {
		t.Fatalf("state after Start = %+v, want the container's and the monitor's pids", c.State)
	}
	if err := unix.Kill(monitor, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, err := Wait(ctx, c)
	if err != nil || code != ExitUnknown || c.State.Status != StatusExited {
		t.Fatalf("Wait after the monitor died = %d, %v, state %+v, want exited %d", code, err, c.State, ExitUnknown)
	}
	for ctx.Err() == nil {
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			break
		}
		time.Sleep(pollInterval)
	}
	if ctx.Err() != nil {
		t.Fatalf("container pid %d outlived its monitor", pid)
	}
	// The dead monitor left the container's cgroup: it starts again all the same.
	if err := Start(ctx, c); err != nil {
		t.Fatalf("Start after the monitor died = %v", err)
	}
	if !c.State.Running() {
		t.Errorf("state after the second Start = %+v, want running", c.State)
	}
}

// TestRemoveForceRunning: rm -f of a running detached container kills it and removes it, its
// cgroup and its monitor; nothing of it is left when Remove returns.
func TestRemoveForceRunning(t *testing.T) {
	for _, autoRemove := range []bool{false, true} {
		t.Run(fmt.Sprintf("autoremove=%v", autoRemove), func(t *testing.T) {
			s, err := OpenStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			c := testContainer(t, s, "", "sh", "-c", "sleep 1000 & exec sleep 1000")
			c.Config.AutoRemove = autoRemove
			if err := writeJSON(filepath.Join(c.Dir, configFile), c.Config, false); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := Start(ctx, c); err != nil {
				t.Fatalf("Start = %v", err)
			}
			st := c.State
			if !st.Running() || st.Pid <= 0 {
				t.Fatalf("state after Start = %+v, want running", st)
			}
			if w := watchRun(c); w == nil {
				t.Error("watchRun found no monitor and PID 1 to watch")
			} else {
				w.close()
			}
			if err := s.Remove(ctx, c, true); err != nil {
				t.Fatalf("Remove(force) = %v", err)
			}
			// A zombie counts as gone: this test process reaps the monitor it started in
			// the background, as the CLI's parent does.
			for _, pid := range []int{st.Pid, st.MonitorPid} {
				if processAlive(pid, 0) {
					t.Errorf("process %d still runs after Remove", pid)
				}
			}
			if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("container dir after Remove: %v", err)
			}
			if _, err := cgroups.Load(c.ID); !errors.Is(err, cgroups.ErrNotFound) {
				t.Errorf("cgroup after Remove: %v, want ErrNotFound", err)
			}
			if _, err := s.Get(c.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get after Remove = %v, want ErrNotFound", err)
			}
		})
	}
}

// TestWatchRunRecycledPid: a recorded PID 1 that is not the monitor's child (its pid was
// reused) is not watched, so rm -f never signals an unrelated process.
func TestWatchRunRecycledPid(t *testing.T) {
	other := exec.Command("sleep", "100")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	start, err := processStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// This test process plays the monitor; the "PID 1" is a child of someone else.
	c := &Container{ID: strings.Repeat("a", 64), State: State{Status: StatusRunning, MonitorPid: os.Getpid(), MonitorStart: start, Pid: os.Getppid()}}
	if w := watchRun(c); w != nil {
		w.close()
		t.Error("watchRun watches a PID 1 that is not the monitor's child")
	}
	c.State.Pid = other.Process.Pid
	c.State.MonitorStart = start + 1
	if w := watchRun(c); w != nil {
		w.close()
		t.Error("watchRun watches a monitor whose start time does not match")
	}
	c.State.MonitorStart = start
	// The monitor's child, but in no cgroup of the container's: a forged state.
	if w := watchRun(c); w != nil {
		w.close()
		t.Error("watchRun watches a PID 1 outside the container's cgroup")
	}
	testutil.Requires(t, testutil.Root)
	c.ID = randomID(t)
	cg, err := cgroups.New(c.ID, cgroups.Resources{})
	if err != nil {
		t.Skipf("skipping: creating a cgroup: %v", err)
	}
	t.Cleanup(func() {
		_ = other.Process.Kill() // ours: started above
		_ = other.Wait()
		if err := cg.Delete(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := cg.AddProc(other.Process.Pid); err != nil {
		t.Fatal(err)
	}
	w := watchRun(c)
	if w == nil {
		t.Fatal("watchRun refused the monitor's own child in the container's cgroup")
	}
	w.close()
}

// TestRestart: a running container is stopped and started again, with a new PID 1 and its
// log kept; a --rm one is not removed by its restart, only when it stops afterwards.
func TestRestart(t *testing.T) {
	for _, autoRemove := range []bool{false, true} {
		t.Run(fmt.Sprintf("autoremove=%v", autoRemove), func(t *testing.T) {
			s, err := OpenStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			c := testContainer(t, s, "", "sh", "-c", "echo ran; exec sleep 1000")
			if autoRemove {
				c.Config.AutoRemove = true
				c.Config.Spec.Root = snapshotterVolatile(c.Config.Spec.Root)
				if err := c.SaveConfig(); err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			if err := Start(ctx, c); err != nil {
				t.Fatalf("Start = %v", err)
			}
			first := c.State.Pid
			// Start returns once the init runs, maybe before its sh has echoed: killed
			// by the restart first (timeout 0), a loaded machine's first run logged nothing.
			waitLogged(t, c, "ran\n")
			if err := Restart(ctx, c, 0); err != nil {
				t.Fatalf("Restart = %v", err)
			}
			if err := c.Reload(); err != nil {
				t.Fatalf("container after Restart: %v", err)
			}
			if !c.State.Running() || c.State.Pid == first {
				t.Fatalf("state after Restart = %+v, want running with a new pid (was %d)", c.State, first)
			}
			if restarting(c) {
				t.Error("the restart mark outlived the restart")
			}
			waitLogged(t, c, "ran\nran\n") // both runs
			if err := Stop(ctx, c, 0); err != nil {
				t.Fatalf("Stop after Restart = %v", err)
			}
			// Stop returns once the container is stopped; a --rm one's monitor removes it
			// right after.
			var gone bool
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(pollInterval) {
				_, err := os.Stat(c.Dir)
				if gone = errors.Is(err, os.ErrNotExist); gone || !autoRemove || time.Now().After(deadline) {
					break
				}
			}
			if gone != autoRemove {
				t.Errorf("container dir gone after Stop: %v; want it removed only for --rm", gone)
			}
		})
	}
}

// snapshotterVolatile marks an overlay root volatile, as strata run --rm does
// (snapshotter.Volatile, which runner cannot import).
func snapshotterVolatile(root []mount.Mount) []mount.Mount {
	out := slices.Clone(root)
	for i := range out {
		if out[i].Type == "overlay" {
			out[i].Options = append(slices.Clone(out[i].Options), "volatile")
		}
	}
	return out
}

// TestWaitAutoRemove: waiting for a --rm container gives its exit status: its monitor removes
// the container only once the waiters that were there have read it. Stopping one that is gone
// already is no error.
func TestWaitAutoRemove(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// A second of margin: on a loaded machine Start can return after a shorter command ended,
	// and a Wait that comes after the removal finds no container to wait for.
	c := testContainer(t, s, "", "sh", "-c", "sleep 1; exit 3")
	c.Config.AutoRemove = true
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	// What Create makes for a --rm container, so that a waiter holds the removal off: made
	// --rm after its create, this one had none, and on a busy host its monitor removed it
	// between recording the exit and Wait's read of it.
	if err := os.WriteFile(filepath.Join(c.Dir, waitersFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := Start(ctx, c); err != nil {
		t.Fatalf("Start = %v", err)
	}
	if code, err := Wait(ctx, c); err != nil || code != 3 {
		t.Errorf("Wait = %d, %v; want 3", code, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(pollInterval) {
		if _, err := os.Stat(c.Dir); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the --rm container was not removed")
		}
	}
	if err := Stop(ctx, c, 0); err != nil {
		t.Errorf("Stop of a --rm container that is gone = %v, want nil", err)
	}
}

// TestReadyVolatileRoot: the mark overlayfs leaves in a volatile overlay's workdir is removed
// for a container that ran since this boot, and refused otherwise (its upper was never
// synced, and a crash may have lost part of it).
func TestReadyVolatileRoot(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	mark := filepath.Join(work, "work", "incompat", "volatile")
	if err := os.MkdirAll(mark, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mark, "dirty"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: strings.Repeat("b", 64), Dir: dir}
	c.Config.Spec.Root = []mount.Mount{{Type: "overlay", Source: "overlay", Target: "/", Options: []string{
		"lowerdir=/x", "upperdir=" + filepath.Join(dir, "upper"), "workdir=" + work, "volatile",
	}}}
	if err := readyVolatileRoot(c); err == nil {
		t.Error("readyVolatileRoot accepted a container with no start time")
	}
	if _, err := os.Stat(mark); err != nil {
		t.Errorf("the mark of an untrusted upper was removed: %v", err)
	}
	c.State.StartedAt = time.Now().UTC()
	if err := readyVolatileRoot(c); err != nil {
		t.Fatalf("readyVolatileRoot = %v", err)
	}
	if _, err := os.Stat(mark); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("mark after readyVolatileRoot: %v, want gone", err)
	}
	if err := readyVolatileRoot(c); err != nil {
		t.Errorf("readyVolatileRoot without a mark = %v", err)
	}
}

// TestWaiterCannotKeepContainer: a waiter that never returns (a stopped `strata wait`) holds
// up the removal of a --rm container for maxWaiterHold at most.
func TestWaiterCannotKeepContainer(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "sleep", "1000")
	c.Config.AutoRemove = true
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	if err := Start(context.Background(), c); err != nil {
		t.Fatalf("Start = %v", err)
	}
	release := holdAsWaiter(c)
	defer release()
	if err := Kill(c, unix.SIGKILL); err != nil {
		t.Fatalf("Kill = %v", err)
	}
	start := time.Now()
	for ; ; time.Sleep(pollInterval) {
		if _, err := os.Stat(c.Dir); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Since(start) > maxWaiterHold+10*time.Second {
			t.Fatal("a waiter that never returns kept the --rm container")
		}
	}
}

// TestDetachedInEveryCgroup: seen from the host, the container's process is in its cgroup in
// every hierarchy strata made one in (its init was born in one and joined the rest itself),
// and it is a single thread: none of the init's runtime threads outlived its exec.
func TestDetachedInEveryCgroup(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	cg, err := cgroups.Load(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := cg.Procs()
	if err != nil || !slices.Contains(pids, c.State.Pid) {
		t.Errorf("cgroup procs = %v, %v; want the container's pid %d", pids, err, c.State.Pid)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.State.Pid))
	if err != nil {
		t.Fatal(err)
	}
	in := 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && strings.HasSuffix(parts[2], "/"+c.ID) {
			in++
		}
	}
	// Every directory of the cgroup is one hierarchy's line.
	want := len(cg.ThreadDirs())
	if _, born := cg.BirthFD(); born {
		want++
	}
	t.Cleanup(func() { _ = cg.Close() })
	if in != want {
		t.Errorf("the container is in its cgroup in %d hierarchies, want %d:\n%s", in, want, b)
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.State.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(st), "\nThreads:\t1\n") {
		t.Errorf("the container's process has more than one thread:\n%s", st)
	}
}

// TestDetachedPreparedNetwork: a detached container gets the network namespace PrepareNetwork
// made while it was created (lo up, not the host's), and neither the monitor nor the
// container keeps an fd of it.
func TestDetachedPreparedNetwork(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	// Made between the container's creation and its Start, as `run -d` does.
	var prepared string
	c := startedContainer(t, func(s *Spec) {
		PrepareNetwork(s.ID, NetworkNone)
		prepared = preparedNetnsOf(t, s.ID)
	}, "sleep", "1000")
	if _, ok := earlyNetns.Load(c.ID); ok {
		t.Error("Start left the prepared namespace registered")
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", c.State.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if ns != prepared {
		t.Errorf("the container is in network namespace %s, want the prepared %s", ns, prepared)
	}
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(c.State.Pid), "-n", "cat", "/sys/class/net/lo/operstate").Output()
	if err != nil || strings.TrimSpace(string(out)) != "unknown" {
		t.Errorf("lo in the container's namespace: %q, %v; want up (unknown)", out, err)
	}
	for _, pid := range []int{c.State.MonitorPid, c.State.Pid} {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range fds {
			if to, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); strings.HasPrefix(to, "net:[") {
				t.Errorf("process %d keeps the network namespace open as fd %s", pid, fd.Name())
			}
		}
	}
}

func TestMonitorArgs(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		want monitorFlags
		ok   bool
	}{
		{[]string{"/c"}, monitorFlags{}, true},
		{[]string{"/c", monitorCgroupMade}, monitorFlags{cgroupMade: true}, true},
		{[]string{"/c", monitorNetns, monitorCgroupMade}, monitorFlags{cgroupMade: true, netns: true}, true},
		{[]string{"/c", monitorLocked, monitorNetns}, monitorFlags{locked: true, netns: true}, true},
		{[]string{"/c", monitorLocked, monitorAttach}, monitorFlags{locked: true, attach: true}, true},
		{[]string{"/c", monitorLocked, monitorLocked}, monitorFlags{}, false},
		{[]string{"/c", monitorNetns, monitorNetns}, monitorFlags{}, false},
		{[]string{"/c", monitorAttach, monitorAttach}, monitorFlags{}, false},
		{[]string{"/c", "--other"}, monitorFlags{}, false},
		{[]string{}, monitorFlags{}, false},
		{[]string{""}, monitorFlags{}, false},
		{[]string{monitorEarly + `{"id":"x"}`}, monitorFlags{}, false}, // earlyMonitorArg's
	} {
		got, ok := monitorArgs(tt.argv)
		if got != tt.want || ok != tt.ok {
			t.Errorf("monitorArgs(%q) = %+v, %v; want %+v, %v", tt.argv, got, ok, tt.want, tt.ok)
		}
	}
}

// TestWaiterNeverCreatesLock: a --rm container is created with its waiters lock, and a waiter
// never makes one: made in a dir that rm -f is emptying, it would fail the removal.
func TestWaiterNeverCreatesLock(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Spec: Spec{Args: []string{"true"}}, AutoRemove: true})
	if err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(c.Dir, waitersFile)
	if _, err := os.Stat(lock); err != nil {
		t.Fatalf("a new --rm container has no waiters lock: %v", err)
	}
	release := holdAsWaiter(c)
	release()
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	holdAsWaiter(c)()
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("holdAsWaiter made the lock of a container being removed: %v", err)
	}
	plain, err := s.Create(Config{Spec: Spec{Args: []string{"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(plain.Dir, waitersFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a container without --rm got a waiters lock: %v", err)
	}
}

// TestCreateToRun: a container created to be run by this process names it as its monitor
// from its first state, runs without being marked again, and another process cannot start
// it while that monitor lives.
func TestCreateToRun(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spec := testSpec(t, "sh", "-c", "exit 4")
	// The writable layer in the container's dir, as the snapshotter makes it.
	root := func(dir string) ([]mount.Mount, error) {
		for _, d := range []string{"upper", "work"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
				return nil, err
			}
		}
		return []mount.Mount{{Type: "overlay", Source: "overlay", Target: "/", Options: []string{
			spec.Root[0].Options[0], "upperdir=" + filepath.Join(dir, "upper"), "workdir=" + filepath.Join(dir, "work"),
		}}}, nil
	}
	c, err := s.CreateToRun(spec.ID, Config{Spec: spec}, root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Remove(context.Background(), c, true) })
	onDisk, err := s.Get(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if onDisk.State.Status != StatusCreated || onDisk.State.MonitorPid != os.Getpid() || onDisk.State.MonitorStart == 0 {
		t.Fatalf("first state = %+v, want created with this process as monitor", onDisk.State)
	}

	// Another process's start (markMonitor) while that monitor lives: refused. The monitor is
	// a child of ours here, for a pid that is not this process's.
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	otherStart, err := processStart(other.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	busy := *onDisk
	busy.State.MonitorPid, busy.State.MonitorStart = other.Process.Pid, otherStart
	if err := busy.saveState(); err != nil {
		t.Fatal(err)
	}
	if err := markMonitor(&busy, 0); !errors.Is(err, ErrRunning) {
		t.Errorf("start while another process starts it = %v, want ErrRunning", err)
	}
	if err := markMonitor(&busy, os.Getpid()); !errors.Is(err, ErrRunning) {
		t.Errorf("start while a process that is not our starter starts it = %v, want ErrRunning", err)
	}
	// A monitor spawned by the process recorded (run -d records itself at create) takes over.
	if err := busy.saveState(); err != nil {
		t.Fatal(err)
	}
	if err := markMonitor(&busy, other.Process.Pid); err != nil {
		t.Errorf("monitor of the recorded starter = %v, want it allowed", err)
	}
	busy.State = onDisk.State // back to the other process's record
	busy.State.MonitorPid, busy.State.MonitorStart = other.Process.Pid, otherStart
	if err := busy.saveState(); err != nil {
		t.Fatal(err)
	}
	_ = other.Process.Kill()
	_ = other.Wait()
	if err := markMonitor(&busy, 0); err != nil {
		t.Errorf("start once that process is gone = %v, want it allowed", err)
	}

	// This process's own run needs no marking.
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	if code, err := RunContainer(context.Background(), c, Stdio{}); err != nil || code != 4 {
		t.Fatalf("RunContainer = %d, %v, want 4", code, err)
	}
	if got, err := s.Get(c.ID); err != nil || got.State.Status != StatusExited || got.State.ExitCode != 4 {
		t.Errorf("after the run: %+v, %v; want exited 4", got, err)
	}
}

// TestDetachedEarlyMonitor: a monitor started before its container existed (as `run -d`
// does) is the one that runs it, in the cgroup and network namespace made beside it.
func TestDetachedEarlyMonitor(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	var earlyPid int
	var prepared string
	c := startedContainer(t, func(s *Spec) {
		PrepareNetwork(s.ID, NetworkNone)
		e := PrepareCgroup(s.ID, s.withDefaults().Resources)
		t.Cleanup(func() { _ = e.Release() })
		e.PrepareMonitor(shapeOf(*s))
		v, ok := earlyMonitors.Load(s.ID)
		if !ok {
			t.Fatal("PrepareMonitor started no monitor")
		}
		earlyPid = v.(*monitorProc).cmd.Process.Pid
		prepared = preparedNetnsOf(t, s.ID)
	}, "sleep", "1000")
	if _, ok := earlyMonitors.Load(c.ID); ok {
		t.Error("Start left the early monitor registered")
	}
	if c.State.MonitorPid != earlyPid {
		t.Errorf("the container's monitor is %d, want the early one %d", c.State.MonitorPid, earlyPid)
	}
	if ns := mustReadlink(t, fmt.Sprintf("/proc/%d/ns/net", c.State.Pid)); ns != prepared {
		t.Errorf("the container is in network namespace %s, want the prepared %s", ns, prepared)
	}
	cg, err := cgroups.Load(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	if pids, err := cg.Procs(); err != nil || !slices.Contains(pids, c.State.Pid) {
		t.Errorf("the container's cgroup holds %v, %v; want its pid %d", pids, err, c.State.Pid)
	}
}

// TestEarlyMonitorReleased: a monitor started for a container that is never made (a name in
// use, an image missing) is ended by Release, with its cgroup.
func TestEarlyMonitorReleased(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	id := randomID(t)
	e := PrepareCgroup(id, cgroups.Resources{})
	e.PrepareMonitor(InitShape{})
	v, ok := earlyMonitors.Load(id)
	if !ok {
		t.Fatal("PrepareMonitor started no monitor")
	}
	m := v.(*monitorProc)
	if err := e.Release(); err != nil {
		t.Fatal(err)
	}
	if m.cmd.ProcessState == nil {
		t.Error("Release left the early monitor running")
	}
	if _, err := cgroups.Load(id); !errors.Is(err, cgroups.ErrNotFound) {
		t.Errorf("cgroup after Release: %v, want ErrNotFound", err)
	}
}

// TestStopSignal: stop sends the container's stop signal first (docker's --stop-signal, or
// the image's STOPSIGNAL): a command that exits 7 on SIGUSR1 and ignores SIGTERM ends with 7
// long before the timeout.
func TestStopSignal(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "stopsig", "sh", "-c", "trap 'exit 7' USR1; trap '' TERM; echo ready; while :; do sleep 0.05; done")
	c.Config.StopSignal = "SIGUSR1"
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	if err := Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	logHolds(t, c, "ready")
	began := time.Now()
	if err := Stop(context.Background(), c, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("stop took %v: the stop signal was not the one sent", took)
	}
	if err := c.Reload(); err != nil || c.State.ExitCode != 7 {
		t.Errorf("exit code after stop = %d (%v), want 7 from the SIGUSR1 trap", c.State.ExitCode, err)
	}
}

// TestStopSignalUnparsable: a stop signal that does not parse (an image's STOPSIGNAL, which
// is recorded unchecked as docker's daemon records it, or a config.json edited by hand) stops
// the container with SIGTERM, as docker's container.StopSignal falls back: Stop failed with
// "stop signal: invalid signal", so the container could only be killed.
func TestStopSignalUnparsable(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "stopsig-bad", "sh", "-c", "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done")
	c.Config.StopSignal = "SIGNOPE"
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	if err := Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	logHolds(t, c, "ready")
	if err := Stop(context.Background(), c, 30*time.Second); err != nil {
		t.Fatalf("Stop with stop signal %q: %v, want SIGTERM sent", c.Config.StopSignal, err)
	}
	if err := c.Reload(); err != nil || c.State.ExitCode != 7 {
		t.Errorf("exit code after stop = %d (%v), want 7 from the TERM trap", c.State.ExitCode, err)
	}
}

// logHolds waits, up to 10 s, until c's log holds want.
func logHolds(t *testing.T, c *Container, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out bytes.Buffer
		if err := Logs(context.Background(), c, LogOptions{}, &out, io.Discard); err == nil && strings.Contains(out.String(), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's log never held %q", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWaitExiting: a container whose PID 1 has exited while its monitor lives is about to get
// its exit status recorded; Wait returns that status, not ExitUnknown (`strata wait` after
// `run -d` of a short command printed 255 now and then).
func TestWaitExiting(t *testing.T) {
	start, err := processStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	// This process plays the monitor; its PID 1 is a pid that has exited.
	c := &Container{ID: strings.Repeat("e", 64), Dir: t.TempDir()}
	c.State = State{Status: StatusRunning, Pid: gone.Process.Pid, MonitorPid: os.Getpid(), MonitorStart: start}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	// The record is in place (exchanged) before the write's old file is unlinked: the test
	// waits for the whole write, or TempDir's cleanup can meet that file.
	recorded := make(chan struct{})
	// The monitor's copy, taken before Wait reloads c: a copy made beside Wait raced with it.
	rec := *c
	go func() {
		defer close(recorded)
		time.Sleep(100 * time.Millisecond)
		rec.State = State{Status: StatusExited, ExitCode: 5, MonitorPid: os.Getpid(), MonitorStart: start}
		_ = rec.saveState()
	}()
	defer func() { <-recorded }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code, err := Wait(ctx, c); err != nil || code != 5 {
		t.Errorf("Wait = %d, %v, want the recorded 5", code, err)
	}
}

// TestRemoveStartedMeanwhile: a plain Remove that found the container idle, then waited for
// its lock while a start ran it, refuses it as running instead of removing the dir under its
// monitor.
func TestRemoveStartedMeanwhile(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := c.Lock()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		other := &Container{ID: c.ID, Dir: c.Dir, Config: c.Config}
		done <- s.Remove(context.Background(), other, false)
	}()
	time.Sleep(200 * time.Millisecond) // Remove has read "created" and waits for the lock
	// "Started" meanwhile: this process as its monitor, a child of it in the container's
	// cgroup as its PID 1.
	fakeRun(t, c, true)
	_ = unlock()
	if err := <-done; !errors.Is(err, ErrRunning) {
		t.Errorf("Remove of a container started meanwhile = %v, want ErrRunning", err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, stateFile)); err != nil {
		t.Errorf("the running container's dir was removed: %v", err)
	}
}

// TestRemoveForceStuckMonitor: rm -f of a container whose PID 1 is gone but whose monitor
// never records the exit (stopped) waits a little for it, then removes the container anyway.
func TestRemoveForceStuckMonitor(t *testing.T) {
	s, c := exitingContainer(t, "stuck") // this process plays the monitor that records nothing
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Remove(ctx, c, true); err != nil {
		t.Fatalf("Remove(force) = %v", err)
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("container dir after Remove(force): %v, want it gone", err)
	}
}

// TestRemoveForceStoppedMonitor: rm -f of a running container whose monitor is stopped kills
// the container and removes it, waiting for the monitor no longer than maxWaiterHold.
func TestRemoveForceStoppedMonitor(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	monitor := c.State.MonitorPid // started by this test, through Start
	if err := unix.Kill(monitor, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Kill(monitor, unix.SIGCONT) })
	s, err := OpenStore(filepath.Dir(c.Dir))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	begin := time.Now()
	if err := s.Remove(ctx, c, true); err != nil {
		t.Fatalf("Remove(force) with a stopped monitor = %v", err)
	}
	if d := time.Since(begin); d > maxWaiterHold+5*time.Second {
		t.Errorf("Remove(force) took %v, want about maxWaiterHold (%v) at most", d, maxWaiterHold)
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("container dir after Remove(force): %v, want it gone", err)
	}
	// Nothing of the container outlives rm -f: the stopped monitor is killed, not left behind.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st := testutil.ProcState(monitor); st == "" || st == "Z" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the stopped monitor %d is still there after Remove(force), state %s", monitor, st)
		}
	}
}

// TestStopStoppedMonitor: stop of a container whose monitor is stopped ends its PID 1 and
// says the monitor is stopped, where it waited for ever for the exit to be recorded; the rm -f
// after it (PID 1 already gone, so nothing to watch) removes the container and kills that
// monitor instead of leaving it behind.
func TestStopStoppedMonitor(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	monitor, pid1 := c.State.MonitorPid, c.State.Pid // started by this test, through Start
	if err := unix.Kill(monitor, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Kill(monitor, unix.SIGCONT) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Stop(ctx, c, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "is stopped") {
		t.Fatalf("Stop with a stopped monitor = %v, want an error saying the monitor is stopped", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Stop waited for the stopped monitor until the test's deadline")
	}
	if st := testutil.ProcState(pid1); st != "" && st != "Z" {
		t.Errorf("the container's PID 1 after Stop: state %s, want it ended", st)
	}
	s, err := OpenStore(filepath.Dir(c.Dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, c, true); err != nil {
		t.Fatalf("Remove(force) = %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st := testutil.ProcState(monitor); st == "" || st == "Z" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the stopped monitor %d is still there after Remove(force), state %s", monitor, st)
		}
	}
}

// TestStopExitWithoutWatch: a stop of a container that exits on its stop signal waits for the
// exit through pidfds and reads of state.json, and makes no inotify watch of the container
// dir, whose last close waits for an SRCU grace period of the kernel's fsnotify (4 to 16 ms
// on a 250 Hz kernel, paid by the stop at its return or its exit: half of the stops took
// ~10 ms longer than the rest). It returns once the exit (3) is recorded all the same, and
// still does when the record comes later than recordPollMax (0 here, the monitor stopped
// until the watch is made), through the watch.
func TestStopExitWithoutWatch(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	for _, late := range []bool{false, true} {
		t.Run(fmt.Sprintf("late=%v", late), func(t *testing.T) {
			c := startedContainer(t, nil, "sh", "-c", "trap 'exit 3' TERM; echo ready; sleep 1000 & wait")
			logHolds(t, c, "ready")
			pollMax := recordPollMax
			recordPollMax = time.Minute // no busy host makes the record late
			if late {
				recordPollMax = 0
			}
			// Late for sure: its monitor is stopped until the stop watches the dir, so the
			// record comes after the watch (a record that beat it made no watch: flaky).
			monitor := c.State.MonitorPid
			resume := func() { _ = unix.Kill(monitor, unix.SIGCONT) }
			if late {
				if err := unix.Kill(monitor, unix.SIGSTOP); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(resume)
			}
			var watches atomic.Int32
			watchMade = func(dir string) {
				if dir == c.Dir {
					watches.Add(1)
					resume()
				}
			}
			t.Cleanup(func() { watchMade, recordPollMax = nil, pollMax })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := Stop(ctx, c, 20*time.Second); err != nil {
				t.Fatal(err)
			}
			watchMade = nil
			var st State
			if err := readState(filepath.Join(c.Dir, stateFile), &st); err != nil || st.Status != StatusExited || st.ExitCode != 3 {
				t.Errorf("state.json as Stop returned: %s, exit %d (%v), want exited 3", st.Status, st.ExitCode, err)
			}
			if n, want := watches.Load(), map[bool]int32{false: 0, true: 1}[late]; n != want {
				t.Errorf("Stop made %d inotify watches of the container dir, want %d", n, want)
			}
		})
	}
}

// countWatches counts the inotify watches made of c's dir (watchMade) until the test ends.
func countWatches(t *testing.T, c *Container) *atomic.Int32 {
	var n atomic.Int32
	watchMade = func(dir string) {
		if dir == c.Dir {
			n.Add(1)
		}
	}
	t.Cleanup(func() { watchMade = nil })
	return &n
}

// withRestartPolicy gives the running c restart policy p, as update --restart does.
func withRestartPolicy(t *testing.T, c *Container, p string) {
	t.Helper()
	if p == "" {
		return
	}
	c.Config.RestartPolicy = RestartPolicy{Name: p}
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
}

// TestWaitExitWithoutWatch: Wait and WaitNotRunning of a running container wait on a pidfd of
// its PID 1, then reread state.json for the exit, and make no inotify watch of its dir (whose
// last close waits for an SRCU grace period, 4 to 16 ms: `strata wait`, `attach` and
// `start -a` paid it at their end). They return the exit code (5) recorded all the same.
func TestWaitExitWithoutWatch(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	for name, wait := range map[string]func(context.Context, *Container) (int, error){"Wait": Wait, "WaitNotRunning": WaitNotRunning} {
		t.Run(name, func(t *testing.T) {
			c := startedContainer(t, nil, "sh", "-c", "trap 'exit 5' TERM; echo ready; sleep 1000 & wait")
			logHolds(t, c, "ready")
			pollMax := recordPollMax
			recordPollMax = time.Minute // no busy host makes the record late
			t.Cleanup(func() { recordPollMax = pollMax })
			// The container is ended once the wait has what it waits on: its PID 1, or (before)
			// its watch.
			var watches atomic.Int32
			var once sync.Once
			end := func(dir string) {
				if dir == c.Dir {
					once.Do(func() {
						k := *c
						_ = Kill(&k, unix.SIGTERM)
					})
				}
			}
			watchMade = func(dir string) {
				if dir == c.Dir {
					watches.Add(1)
				}
				end(dir)
			}
			pid1Opened = end
			t.Cleanup(func() { watchMade, pid1Opened = nil, nil })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			code, err := wait(ctx, c)
			if err != nil || code != 5 {
				t.Fatalf("%s = %d, %v; want 5", name, code, err)
			}
			watchMade, pid1Opened = nil, nil
			var st State
			if err := readState(filepath.Join(c.Dir, stateFile), &st); err != nil || st.Status != StatusExited || st.ExitCode != 5 {
				t.Errorf("state.json as %s returned: %s, exit %d (%v), want exited 5", name, st.Status, st.ExitCode, err)
			}
			if n := watches.Load(); n != 0 {
				t.Errorf("%s made %d inotify watches of the container dir, want 0", name, n)
			}
		})
	}
}

// TestKillExitWithoutWatch: a SIGKILL (strata kill's default) waits for the exit it records
// through a pidfd of the PID 1 it signalled and rereads of state.json, and a stop or kill of a
// container with a restart policy reads whether it is in its restart backoff before it
// watches: neither makes an inotify watch of the container dir (4 to 16 ms at its close).
func TestKillExitWithoutWatch(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	for _, policy := range []string{"", "always"} {
		for _, how := range []string{"kill", "stop"} {
			t.Run(how+"/"+policy, func(t *testing.T) {
				c := startedContainer(t, nil, "sh", "-c", "trap 'exit 3' TERM; echo ready; sleep 1000 & wait")
				logHolds(t, c, "ready")
				withRestartPolicy(t, c, policy)
				pollMax := recordPollMax
				recordPollMax = time.Minute
				t.Cleanup(func() { recordPollMax = pollMax })
				watches := countWatches(t, c)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				var err error
				want := 137
				if how == "kill" {
					err = KillAfterStart(ctx, c, unix.SIGKILL)
				} else {
					err, want = Stop(ctx, c, 20*time.Second), 3
				}
				if err != nil {
					t.Fatal(err)
				}
				watchMade = nil
				var st State
				if err := readState(filepath.Join(c.Dir, stateFile), &st); err != nil || st.Status != StatusExited || st.ExitCode != want {
					t.Errorf("state.json as %s returned: %s, exit %d (%v), want exited %d", how, st.Status, st.ExitCode, err, want)
				}
				if n := watches.Load(); n != 0 {
					t.Errorf("%s made %d inotify watches of the container dir, want 0", how, n)
				}
			})
		}
	}
}

// TestRestartWithoutWatch: a restart of a running container (with a restart policy or not)
// looks for another start under way and for a restart backoff before it watches the dir for
// their end, and makes no inotify watch when there is none: it made one or three, each 4 to
// 16 ms at its close.
func TestRestartWithoutWatch(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	for _, policy := range []string{"", "always"} {
		t.Run("policy="+policy, func(t *testing.T) {
			c := startedContainer(t, nil, "sh", "-c", "trap 'exit 3' TERM; echo ready; sleep 1000 & wait")
			logHolds(t, c, "ready")
			withRestartPolicy(t, c, policy)
			started := c.State.StartedAt
			watches := countWatches(t, c)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := Restart(ctx, c, 20*time.Second); err != nil {
				t.Fatal(err)
			}
			watchMade = nil
			if err := c.Reload(); err != nil || !c.State.Running() || !c.State.StartedAt.After(started) {
				t.Errorf("after Restart: %s, started %v (%v), want running, started after %v", c.State.Status, c.State.StartedAt, err, started)
			}
			if n := watches.Load(); n != 0 {
				t.Errorf("Restart made %d inotify watches of the container dir, want 0", n)
			}
		})
	}
}

// TestStartAttachedAutoRemove: StartAttached of a --rm container returns its exit status
// once the container is removed, as docker start -a does (waitExitOrRemoved): it returned
// when the exit was recorded, before the monitor removed the container, so a ps right after
// still listed it.
func TestStartAttachedAutoRemove(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "sh", "-c", "echo bye; exit 4")
	c.Config.AutoRemove = true
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	// What Create makes for a --rm container (see TestWaitAutoRemove).
	if err := os.WriteFile(filepath.Join(c.Dir, waitersFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code, err := StartAttached(context.Background(), c, &stdout, &stderr)
	if err != nil || code != 4 {
		t.Fatalf("StartAttached = %d, %v; want 4 (stderr %q)", code, err, stderr.String())
	}
	if stdout.String() != "bye\n" {
		t.Errorf("output = %q, want %q", stdout.String(), "bye\n")
	}
	if _, err := os.Lstat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the --rm container's dir is still there once StartAttached returned (%v)", err)
	}
	// The monitor goes on deleting what it moved aside (.removing-ID) after that: the test's
	// own cleanup of the store, racing it, found a directory not yet empty.
	aside := filepath.Join(filepath.Dir(c.Dir), ".removing-"+c.ID)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Lstat(aside); errors.Is(err, os.ErrNotExist) {
			break
		}
	}
}

// TestRemoveOwnReportsRemovedMeanwhile: Remove of a container another process removed meanwhile
// is no error (rm's semantics), and RemoveOwn says ErrNotFound: two container prunes at once
// both listed the same container as deleted.
func TestRemoveOwnReportsRemovedMeanwhile(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "pruned", Image: "alpine"})
	if err != nil {
		t.Fatal(err)
	}
	stale := *c // what a second prune listed before the first removed it
	if err := s.RemoveOwn(context.Background(), c, false); err != nil {
		t.Fatalf("RemoveOwn of an existing container = %v", err)
	}
	if err := s.RemoveOwn(context.Background(), &stale, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("RemoveOwn of a container removed meanwhile = %v, want ErrNotFound", err)
	}
	if err := s.Remove(context.Background(), &stale, false); err != nil {
		t.Errorf("Remove of a container removed meanwhile = %v, want nil", err)
	}
}
