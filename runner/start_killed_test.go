package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/lockfile"
	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// startKilledEnv makes the test binary the strata whose start is killed: it starts container
// $startKilledEnv (its dir, then a comma and how) detached. "start" as strata start does;
// "run-d" as run -d does: its record names this process as the container's monitor (as
// CreateToRun writes it), the container's cgroup is made beforehand (PrepareCgroup) and so is
// the monitor (PrepareMonitor); "run-d-late" is run -d whose early monitor did not start.
const startKilledEnv = "STRATA_TEST_START_KILLED"

func init() {
	v := os.Getenv(startKilledEnv)
	if v == "" {
		return
	}
	dir, how, _ := strings.Cut(v, ",")
	s, err := OpenStore(filepath.Dir(dir))
	var c *Container
	if err == nil {
		c, err = s.Get(filepath.Base(dir))
	}
	if err == nil && how != "start" {
		c.State.MonitorPid, c.monitored = os.Getpid(), true
		if c.State.MonitorStart, err = processStart(os.Getpid()); err == nil {
			err = c.saveState()
		}
		e := PrepareCgroup(c.ID, c.Config.Spec.withDefaults().Resources)
		if how == "run-d" {
			e.PrepareMonitor(shapeOf(c.Config.Spec))
		}
	}
	if err == nil {
		err = Start(context.Background(), c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestStartKilledKeepsLock SIGKILLs a detached start once it has spawned the container's
// monitor (or told a monitor PrepareMonitor started which container it runs), while the
// monitor has not yet looked at the container: both stopped there by testStop. The container's
// lock must stay held until the monitor has recorded the start. It went with the killed start,
// and an rm (or another start, or a sweep) then worked on the container while the monitor went
// on to run it: here the rm removed the container, whose monitor then started in a dir gone.
// Once started, the monitor must hold neither the lock (rm -f, stop and exec take it while the
// container runs) nor let the container's process hold it. A run -d's monitor must go on to
// start the container too: it took the cgroup run -d made for it for one a dead monitor left
// (the record names the killed run -d as the container's monitor), and either refused the
// container as held by a live strata (its own hold) or deleted the cgroup and failed.
func TestStartKilledKeepsLock(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	for _, how := range []string{"start", "run-d", "run-d-late"} {
		t.Run(how, func(t *testing.T) { testStartKilledKeepsLock(t, how) })
	}
}

func testStartKilledKeepsLock(t *testing.T, how string) {
	early := how == "run-d"
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "sleep", "1000")
	lockPath := filepath.Join(c.Dir, lockFile)
	cli := exec.Command(exe, "-test.run=^$")
	cli.Env = append(os.Environ(), startKilledEnv+"="+c.Dir+","+how, TestStopEnv+"="+stopMonitor+","+stopMonitorTold)
	var stderr strings.Builder
	cli.Stderr = &stderr
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cli.Process.Kill()
			_ = cli.Wait()
		}
	})
	// Both stopped: the start once the monitor was told, the monitor at its start.
	monitor := 0
	for deadline := time.Now().Add(30 * time.Second); monitor == 0 || testutil.ProcState(cli.Process.Pid) != "T"; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) || testutil.ProcState(cli.Process.Pid) == "" {
			t.Fatalf("the start never stopped with its monitor spawned: %s", stderr.String())
		}
		if monitor == 0 {
			for _, p := range testutil.ChildPids(cli.Process.Pid) {
				if testutil.ProcState(p) == "T" {
					monitor = p
				}
			}
		}
	}
	t.Cleanup(func() { _ = unix.Kill(monitor, unix.SIGCONT) })
	// What the monitor inherited is close-on-exec before it does anything: no init it clones
	// ever holds the lock, or any other of strata's files.
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fdinfo", monitor))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range fds {
		if fd, err := strconv.Atoi(e.Name()); err != nil || fd < 3 {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", monitor, e.Name()))
		if err != nil {
			continue
		}
		var flags uint64
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "flags:"); ok {
				flags, _ = strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			}
		}
		if flags&unix.O_CLOEXEC == 0 {
			link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", monitor, e.Name()))
			t.Errorf("the monitor's fd %s (%s) is not close-on-exec", e.Name(), link)
		}
	}
	if !early && !testutil.HoldsPath(monitor, lockPath) {
		t.Error("the monitor was not given the container's lock")
	}
	_ = cli.Process.Signal(syscall.SIGKILL)
	_ = cli.Wait()
	killed = true

	if l, ok, err := lockfile.TryLockExisting(lockPath, true); err != nil {
		t.Fatal(err)
	} else if ok {
		_ = l.Unlock()
		t.Errorf("the container's lock is free while its monitor starts it, its start killed")
	}
	// An rm now waits for the start, then finds the container running.
	removed := make(chan error, 1)
	go func() {
		other := &Container{ID: c.ID, Dir: c.Dir, Config: c.Config}
		removed <- s.Remove(context.Background(), other, false)
	}()
	select {
	case err := <-removed:
		t.Fatalf("rm while the monitor starts the container = %v, want it to wait for the start", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := unix.Kill(monitor, unix.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-removed:
		if !errors.Is(err, ErrRunning) {
			t.Errorf("rm of the container started meanwhile = %v, want ErrRunning", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("rm never returned")
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if err := c.Reload(); err != nil {
			t.Fatalf("the container after its monitor went on: %v", err)
		}
		if c.State.Running() {
			break
		}
		if time.Now().After(deadline) || testutil.ProcState(monitor) == "" {
			t.Fatalf("the container never ran: %+v", c.State)
		}
	}
	if c.State.MonitorPid != monitor {
		t.Errorf("the container's monitor is %d, want %d", c.State.MonitorPid, monitor)
	}
	// Started: the lock is free for rm -f, stop and exec, and no process holds it.
	l, ok, err := lockfile.TryLockExisting(lockPath, true)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Error("the monitor keeps the container's lock while the container runs")
	} else {
		_ = l.Unlock()
	}
	for _, p := range []int{monitor, c.State.Pid} {
		if testutil.HoldsPath(p, lockPath) {
			t.Errorf("process %d (monitor %d, PID 1 %d) holds the container's lock file", p, monitor, c.State.Pid)
		}
	}
}
