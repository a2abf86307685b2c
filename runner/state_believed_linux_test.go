package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/runner/cgroups"
)

// fakeRun records c as running with this process as its monitor and a `sleep` child of it as
// its PID 1, put in a cgroup named by c's ID (inCgroup) as a real container's PID 1 is, or
// left outside it, as in a forged or stale state. The child and cgroup go at the test's end.
func fakeRun(t *testing.T, c *Container, inCgroup bool) *exec.Cmd {
	t.Helper()
	child := exec.Command("sleep", "1000")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() }) // ours, started above
	if inCgroup {
		testutil.Requires(t, testutil.Root)
		cg, err := cgroups.New(c.ID, cgroups.Resources{})
		if err != nil {
			t.Skipf("skipping: creating a cgroup: %v", err)
		}
		t.Cleanup(func() {
			_ = child.Process.Kill()
			_ = child.Wait()
			_ = cg.Delete()
		})
		if err := cg.AddProc(child.Process.Pid); err != nil {
			t.Fatal(err)
		}
	}
	start, err := processStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	c.State = State{Status: StatusRunning, Pid: child.Process.Pid, MonitorPid: os.Getpid(), MonitorStart: start}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	return child
}

// TestReloadRunningOutsideCgroup: a state.json that names a live process and a child of it,
// with their true start times, but whose PID 1 is not in the container's cgroup (a hand edit,
// or a state left by a reboot whose pids now belong to other processes) reads as exited with
// ExitUnknown: wait returns at once instead of waiting for the unrelated process, start may
// start the container, and ps does not show it Up. The same state with its PID 1 in the
// container's cgroup still reads as running.
func TestReloadRunningOutsideCgroup(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	forged, err := s.Create(Config{Name: "forged"})
	if err != nil {
		t.Fatal(err)
	}
	fakeRun(t, forged, false)
	c, err := s.Get("forged")
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Status != StatusExited || c.State.ExitCode != ExitUnknown || c.State.Pid != 0 {
		t.Errorf("state of a PID 1 outside the container's cgroup = %+v, want exited %d", c.State, ExitUnknown)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if code, err := Wait(ctx, c); err != nil || code != ExitUnknown {
		t.Errorf("Wait = %d, %v; want %d at once", code, err, ExitUnknown)
	}

	real, err := s.Create(Config{Name: "real"})
	if err != nil {
		t.Fatal(err)
	}
	fakeRun(t, real, true)
	if c, err = s.Get("real"); err != nil {
		t.Fatal(err)
	}
	if !c.State.Running() {
		t.Errorf("a PID 1 in the container's cgroup reads as %+v, want running", c.State)
	}
}

// TestRemoveForeignStarterBounded: a plain Remove of a container whose state says its monitor
// is starting it (created, naming a live process with its true start time that holds the
// container's lock file open, as its monitor does) that never gets on with it, a stuck or stopped
// monitor, gives up with ErrRunning after a while, leaving the container and the process
// alone: it waited for ever.
func TestRemoveForeignStarterBounded(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "foreign"})
	if err != nil {
		t.Fatal(err)
	}
	other := monitorSleep(t, c.Dir)
	start := startExeced(t, other)
	c.State = State{Status: StatusCreated, MonitorPid: other.Process.Pid, MonitorStart: start}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*maxWaiterHold)
	defer cancel()
	if err := s.Remove(ctx, c, false); !errors.Is(err, ErrRunning) {
		t.Errorf("Remove of a container another process claims to start = %v, want ErrRunning", err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, stateFile)); err != nil {
		t.Errorf("the container was removed: %v", err)
	}
	if !processAlive(other.Process.Pid, start) {
		t.Errorf("the process named as the monitor is gone")
	}
	if err := s.Remove(ctx, c, true); err != nil {
		t.Errorf("Remove with force = %v, want it removed", err)
	}
	if !processAlive(other.Process.Pid, start) {
		t.Errorf("Remove with force ended the process named as the monitor")
	}
}

// TestReloadExitingUnrecorded: a state that says running, naming a live monitor with its true
// start time and a PID 1 that is gone, reads as exiting only while some process holds the
// container's cgroup, as its monitor does until it records the exit: one that nothing holds
// (a hand edit, pids that other processes took after a reboot) reads as exited, so wait
// returns instead of waiting for that unrelated process to end.
func TestReloadExitingUnrecorded(t *testing.T) {
	c, other, start := exitingWithMonitor(t, "unrecorded", func(string) *exec.Cmd { return exec.Command("sleep", "1000") })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if code, err := Wait(ctx, c); err != nil || code != ExitUnknown {
		t.Errorf("Wait = %d, %v; want %d", code, err, ExitUnknown)
	}
	if c.State.Status != StatusExited {
		t.Errorf("state = %+v, want exited", c.State)
	}
	if !processAlive(other.Process.Pid, start) {
		t.Errorf("the process named as the monitor is gone")
	}
}

// TestReloadExitingMonitorLate: a monitor that is this container's (it holds the container's
// lock file open, holdMonitorProof) and has not yet recorded the exit after letting go of the cgroup, on a busy
// host for longer than exitRecordWait, is still believed: the container reads as exiting,
// not exited 255, so wait gets the code the monitor records and start does not run the
// container a second time beside it (found in review, with the monitor's write delayed).
func TestReloadExitingMonitorLate(t *testing.T) {
	// A stand-in for the monitor: holding the container's lock file as strata's does.
	c, monitor, start := exitingWithMonitor(t, "late", func(dir string) *exec.Cmd { return monitorSleep(t, dir) })
	time.Sleep(2 * exitRecordWait)
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if c.State.Status != StatusRunning || c.State.ExitCode == ExitUnknown {
		t.Errorf("state with its monitor late = %+v, want it still exiting (running), not exited %d", c.State, ExitUnknown)
	}
	// The monitor records the exit: wait returns that code.
	c.State = State{Status: StatusExited, ExitCode: 5, MonitorPid: monitor.Process.Pid, MonitorStart: start}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if code, err := Wait(ctx, c); err != nil || code != 5 {
		t.Errorf("Wait after the late record = %d, %v; want 5", code, err)
	}
}

// exitingWithMonitor creates container name in a new store with a state that says running, its
// PID 1 a process that is gone and its monitor the process monitor(its dir) starts (with its
// true start time, ended at the test's end), and returns them.
func exitingWithMonitor(t *testing.T, name string, monitor func(dir string) *exec.Cmd) (*Container, *exec.Cmd, uint64) {
	t.Helper()
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	m := monitor(c.Dir)
	start := startExeced(t, m)
	c.State = State{Status: StatusRunning, Pid: gone.Process.Pid, MonitorPid: m.Process.Pid, MonitorStart: start}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	return c, m, start
}

// TestReloadRecordedMeanwhile: a monitor that reaps the container, records its exit and ends
// between Reload's read of state.json and its look at the processes the state names leaves a
// record newer than the state judged stale: that record holds, not a 255 (wait printed 255
// for a container that exited 29 in a clean-clone CI run on a busy host).
func TestReloadRecordedMeanwhile(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "meanwhile"})
	if err != nil {
		t.Fatal(err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	// The state read names a monitor already gone, as it is once it has recorded and ended.
	c.State = State{Status: StatusRunning, Pid: gone.Process.Pid, MonitorPid: gone.Process.Pid, MonitorStart: 1}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	recorded := State{Status: StatusExited, ExitCode: 29, FinishedAt: time.Now().UTC()}
	once := false
	afterStateRead = func() {
		if !once {
			once = true
			c.State = recorded
			if err := c.saveState(); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(func() { afterStateRead = nil })
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if c.State.Status != StatusExited || c.State.ExitCode != 29 {
		t.Errorf("state after a record made meanwhile = %+v, want the record (exited 29)", c.State)
	}
}

// TestStartForeignRecord: a created container whose state names a live process that is no
// strata process (a hand edit, or pids and start times other processes took after a reboot)
// as the monitor starting it is not being started: start (beginRun, as Start does before it
// spawns its monitor) takes it over, and a plain rm removes it, where both refused it with
// "container is running" for as long as that process lived (only rm -f helped). The process
// is left alone. A record naming the container's own monitor (it holds the container's lock
// file open) still holds it off.
func TestStartForeignRecord(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	claim := func(c *Container, cmd *exec.Cmd) uint64 {
		t.Helper()
		start := startExeced(t, cmd)
		c.State = State{Status: StatusCreated, MonitorPid: cmd.Process.Pid, MonitorStart: start}
		if err := c.saveState(); err != nil {
			t.Fatal(err)
		}
		return start
	}

	c, err := s.Create(Config{Name: "foreign"})
	if err != nil {
		t.Fatal(err)
	}
	other := exec.Command("sleep", "1000")
	start := claim(c, other)
	if err := beginRun(c); err != nil {
		t.Fatalf("start of a container whose record names a foreign process = %v, want it started", err)
	}
	if c.State.MonitorPid != os.Getpid() {
		t.Errorf("monitor after start = %d, want this process %d", c.State.MonitorPid, os.Getpid())
	}
	if !processAlive(other.Process.Pid, start) {
		t.Errorf("the process named in the record is gone")
	}

	c2, err := s.Create(Config{Name: "foreign2"})
	if err != nil {
		t.Fatal(err)
	}
	claim(c2, exec.Command("sleep", "1000"))
	ctx, cancel := context.WithTimeout(context.Background(), 4*maxWaiterHold)
	defer cancel()
	if err := s.Remove(ctx, c2, false); err != nil {
		t.Errorf("rm of a created container whose record names a foreign process = %v, want it removed", err)
	}

	c3, err := s.Create(Config{Name: "owned"})
	if err != nil {
		t.Fatal(err)
	}
	claim(c3, monitorSleep(t, c3.Dir))
	if err := beginRun(c3); !errors.Is(err, ErrRunning) {
		t.Errorf("start of a container its monitor is starting = %v, want ErrRunning", err)
	}
}

// TestReloadLostMonitorFinishedAt: a container whose monitor died without recording its exit
// (killed, a crash) reads as exited ExitUnknown with a FinishedAt of when it was last known
// alive (here its state's write, just before the look: lostAt), the same at every later look: it read as FinishedAt 0001-01-01 in inspect, and ps showed
// "Exited (255)" with no time since.
func TestReloadLostMonitorFinishedAt(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "lost"})
	if err != nil {
		t.Fatal(err)
	}
	// Its start took its lock, which made the lock file.
	unlock, err := c.Lock()
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	started := time.Now().UTC().Add(-time.Minute)
	c.State = State{Status: StatusRunning, Pid: gone.Process.Pid, MonitorPid: gone.Process.Pid, MonitorStart: 1, StartedAt: started}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	got, err := s.Get("lost")
	if err != nil {
		t.Fatal(err)
	}
	if got.State.Status != StatusExited || got.State.ExitCode != ExitUnknown {
		t.Fatalf("state of a lost monitor = %+v, want exited %d", got.State, ExitUnknown)
	}
	fin := got.State.FinishedAt
	if fin.Before(before.Add(-time.Second)) || fin.After(time.Now().Add(time.Second)) {
		t.Errorf("FinishedAt of a lost monitor = %v, want about when its state was written (%v)", fin, before)
	}
	time.Sleep(20 * time.Millisecond)
	again, err := s.Get("lost")
	if err != nil {
		t.Fatal(err)
	}
	if !again.State.FinishedAt.Equal(fin) || !again.State.StartedAt.Equal(started) || again.State.ExitCode != ExitUnknown {
		t.Errorf("state read again = %+v, want FinishedAt %v kept, StartedAt %v", again.State, fin, started)
	}
	// Only the time is written: the record keeps what its monitor left, running, and each
	// reader judges it again, so a wrong verdict (a run in another pid namespace) is no
	// permanent exit on disk.
	var disk State
	if err := readJSON(filepath.Join(c.Dir, stateFile), &disk); err != nil {
		t.Fatal(err)
	}
	if disk.Status != StatusRunning || disk.ExitCode != 0 || !disk.FinishedAt.Equal(fin) {
		t.Errorf("state.json of a lost monitor = %+v, want running as recorded, with FinishedAt %v", disk, fin)
	}
}

// TestStopExiting: a stop of a container that has just exited, its monitor yet to record how
// (its PID 1 gone, the monitor alive), returns once that is recorded, as a stop that signals
// it does: it returned at once, and a script's `stop` then `inspect` read it as running, exit
// code 0.
func TestStopExiting(t *testing.T) {
	c, m, start := exitingWithMonitor(t, "stopexiting", func(dir string) *exec.Cmd {
		return monitorSleep(t, dir) // holding the container's lock file, as its monitor
	})
	recorded := make(chan error, 1)
	// The monitor's copy, taken before Stop reloads c: a copy made beside Stop raced with it.
	rec := *c
	go func() {
		time.Sleep(300 * time.Millisecond)
		rec.State = State{Status: StatusExited, ExitCode: 5, MonitorPid: m.Process.Pid, MonitorStart: start}
		recorded <- rec.saveState()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Stop(ctx, c, 10*time.Second); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if c.State.Status != StatusExited || c.State.ExitCode != 5 {
		t.Errorf("state after Stop returned = %+v, want exited 5 as the monitor records", c.State)
	}
	if err := <-recorded; err != nil {
		t.Fatal(err)
	}
}

// TestReloadRemoved: a container removed since it was looked up (an rm -f racing start or
// wait) reads as no such container, still an fs.ErrNotExist for the callers that test for
// it: start and wait said "reading container … state: open /…/state.json: no such file or
// directory".
func TestReloadRemoved(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "removed"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		t.Fatal(err)
	}
	err = c.Reload()
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), c.Dir) {
		t.Errorf("Reload of a removed container = %v, want no such container, an fs.ErrNotExist, without its path", err)
	}
	if err := Start(context.Background(), c); !errors.Is(err, ErrNotFound) {
		t.Errorf("Start of a removed container = %v, want no such container", err)
	}
	if _, err := Wait(context.Background(), c); !errors.Is(err, ErrNotFound) {
		t.Errorf("Wait of a removed container = %v, want no such container", err)
	}
}

// TestReloadBeingRemoved: a container whose removal is under way (its config.json gone, which
// removeDir deletes first, then its state.json, its dir still there) reads as no such
// container too: a stop or restart racing an rm -f said "reading container … state: open
// /…/state.json: no such file or directory". A dir that lost only its state.json (an rm
// killed half-way) is not taken for a removal: Reload reads it as a lost state, as an
// emptied one, and Wait as exited 255.
func TestReloadBeingRemoved(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "removing"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{configFile, stateFile} {
		if err := os.Remove(filepath.Join(c.Dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Reload(); !errors.Is(err, ErrNotFound) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Reload of a container being removed = %v, want no such container", err)
	}
	if err := Stop(context.Background(), c, time.Second); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stop of a container being removed = %v, want no such container", err)
	}

	lost, err := s.Create(Config{Name: "lost"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(lost.Dir, stateFile)); err != nil {
		t.Fatal(err)
	}
	if err := lost.Reload(); err != nil || lost.State.Status != StatusExited || lost.State.ExitCode != ExitUnknown || !strings.HasPrefix(lost.State.Error, stateLostPrefix) {
		t.Errorf("Reload of a container that lost its state.json = %v, state %+v; want it read as a lost state, exited %d", err, lost.State, ExitUnknown)
	}
	if code, err := Wait(context.Background(), lost); err != nil || code != ExitUnknown {
		t.Errorf("Wait of a container that lost its state.json = %d, %v; want %d", code, err, ExitUnknown)
	}
}

// TestIsMonitorOfProof: the process a state names is container id's monitor only if it proves
// it: a detached monitor by its command line (argv[0] strata-monitor, its arguments naming the
// container), a strata CLI that monitors the container itself by holding its lock file open,
// whatever its binary (one an upgrade replaced while it ran, so its exe reads "… (deleted)",
// stays one). Any process of a binary named strata* was believed: a damaged state naming a
// live `strata events -f`, or another container's monitor, made wait, start and stop wait for
// it to end.
func TestIsMonitorOfProof(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	body, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	bins := t.TempDir()
	binary := func(name string) string {
		t.Helper()
		bin := filepath.Join(bins, name)
		if err := os.WriteFile(bin, body, 0o755); err != nil {
			t.Fatal(err)
		}
		return bin
	}
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "proven"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Create(Config{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	pidOf := func(cmd *exec.Cmd) int { t.Helper(); startExeced(t, cmd); return cmd.Process.Pid }
	// A process of a strata binary holding nothing: a `strata events -f`.
	events := exec.Command(binary("strata"), "1000")
	// Processes holding a container's lock file, as its foreground run does.
	own := monitorSleep(t, c.Dir)
	own.Path, own.Args[0] = binary("strata-old"), "strata"
	foreign := monitorSleep(t, other.Dir)
	foreign.Path = binary("strata-other")
	// Detached monitors, of this container and of the other: a shell waiting on a pipe, one
	// process, with a monitor's command line.
	detached := func(dir string) *exec.Cmd {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		cmd := exec.Command("sh", "-c", "read x", "sh", dir)
		cmd.Args[0], cmd.Stdin = monitorMarker, r
		return cmd
	}
	for _, tt := range []struct {
		name string
		cmd  *exec.Cmd
		want bool
	}{
		{"a strata process holding nothing", events, false},
		{"a process holding the container's lock file", own, true},
		{"another container's foreground run", foreign, false},
		{"the container's detached monitor", detached(c.Dir), true},
		{"another container's detached monitor", detached(other.Dir), false},
	} {
		if got := isMonitorOf(pidOf(tt.cmd), c.ID, c.Dir); got != tt.want {
			t.Errorf("isMonitorOf(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if err := os.Remove(filepath.Join(bins, "strata-old")); err != nil { // replaced by an upgrade
		t.Fatal(err)
	}
	if !isMonitorOf(own.Process.Pid, c.ID, c.Dir) {
		t.Errorf("isMonitorOf(a process holding the lock file whose binary was replaced) = false, want true")
	}
}

// TestStrataProcessNamedMonitor: a damaged state.json naming a live strata process that is not
// the container's monitor (a `strata events -f`), with its true start time, holds nothing up:
// a container recorded as exiting reads as exited with ExitUnknown and Wait returns, and one
// recorded as being started is started. Both waited for that process to end.
func TestStrataProcessNamedMonitor(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	body, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "strata")
	if err := os.WriteFile(bin, body, 0o755); err != nil {
		t.Fatal(err)
	}
	c, events, start := exitingWithMonitor(t, "damaged", func(string) *exec.Cmd { return exec.Command(bin, "1000") })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if code, err := Wait(ctx, c); err != nil || code != ExitUnknown {
		t.Errorf("Wait = %d, %v; want %d at once", code, err, ExitUnknown)
	}

	c.State = State{Status: StatusCreated, MonitorPid: events.Process.Pid, MonitorStart: start}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	if err := beginRun(c); err != nil {
		t.Errorf("start of a container whose record names a strata process that is not its monitor = %v, want it started", err)
	}
	dropMonitorProof(c.ID)
	if !processAlive(events.Process.Pid, start) {
		t.Errorf("the process named in the record is gone")
	}
}

// monitorSleep is a `sleep 1000` that holds the lock file of container dir open, as the strata
// process that monitors the container does (holdMonitorProof): one process, which a test's
// Kill ends.
func monitorSleep(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cmd := exec.Command("sleep", "1000")
	cmd.ExtraFiles = []*os.File{f}
	return cmd
}

// startExeced starts cmd, to be killed at the test's end, and returns its start time once the
// kernel shows its new command line. Start returns when the exec has closed the child's
// close-on-exec files, before the kernel has set up the new argument area: a
// /proc/PID/cmdline read then is empty, and isMonitorOf, reading it in that window on a loaded
// machine, took the process for a foreign one (make test met one such Remove removing the
// container).
func startExeced(t *testing.T, cmd *exec.Cmd) uint64 {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) // ours, started here
	want := strings.Join(cmd.Args, "\x00") + "\x00"
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && string(b) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d never showed its command line %q: %q, %v", pid, cmd.Args, b, err)
		}
	}
	start, err := processStart(pid)
	if err != nil {
		t.Fatal(err)
	}
	return start
}

// TestReloadLostUnwritableFinishedAt: a lost run whose FinishedAt cannot be written (no lock
// file to take, as in a store a hand left so; a read-only store, the lock held) reads with
// the same FinishedAt at every look: when it was last known alive (its state's last write),
// or, for a run that started before this boot, the boot. It read as now at each look, and ps
// said "Exited (255) Less than a second ago" for ever, the time moving with the clock.
func TestReloadLostUnwritableFinishedAt(t *testing.T) {
	boot, err := bootTime()
	if err != nil {
		t.Skipf("skipping: no boot time: %v", err)
	}
	recent := time.Now().UTC().Add(-2 * time.Minute).Truncate(time.Second)
	for _, tc := range []struct {
		name           string
		started, alive time.Time // alive: state.json's mtime
		want           time.Time
	}{
		{"since boot", recent, recent.Add(time.Minute), recent.Add(time.Minute)},
		{"before boot", boot.Add(-time.Hour), boot.Add(-time.Minute), boot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.started.Before(boot) != (tc.want == boot) {
				t.Skipf("skipping: the machine booted %v, too recently for this case", boot)
			}
			s, err := OpenStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			c, err := s.Create(Config{Name: "lostro"})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(c.Dir, lockFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			gone := exec.Command("true")
			if err := gone.Run(); err != nil {
				t.Fatal(err)
			}
			c.State = State{Status: StatusRunning, Pid: gone.Process.Pid, MonitorPid: gone.Process.Pid, MonitorStart: 1, StartedAt: tc.started}
			if err := c.saveState(); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(filepath.Join(c.Dir, stateFile), tc.alive, tc.alive); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				got, err := s.Get("lostro")
				if err != nil {
					t.Fatal(err)
				}
				if got.State.Status != StatusExited || got.State.ExitCode != ExitUnknown || !got.State.FinishedAt.Equal(tc.want) {
					t.Errorf("look %d at a lost run: %s %d, FinishedAt %v; want exited %d, FinishedAt %v", i, got.State.Status, got.State.ExitCode, got.State.FinishedAt, ExitUnknown, tc.want)
				}
			}
			if _, err := os.Lstat(filepath.Join(c.Dir, lockFile)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the test's premise: a lock file %v, want none", err)
			}
		})
	}
}
