package runner

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// liveMonitors starts n processes that stand for live monitors and returns their pids and
// start times; they are killed when the test ends.
func liveMonitors(t *testing.T, n int) (pids []int, starts []uint64) {
	t.Helper()
	for range n {
		cmd := exec.Command("sleep", "600")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		start, err := processStart(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		pids, starts = append(pids, cmd.Process.Pid), append(starts, start)
	}
	return pids, starts
}

// stateOfSize returns st with an Error that makes its state.json exactly size bytes, as
// saveState writes it.
func stateOfSize(t *testing.T, st State, size int) State {
	t.Helper()
	st.Error = "x"
	b, err := jsonIndented(st)
	if err != nil {
		t.Fatal(err)
	}
	st.Error = strings.Repeat("x", size-len(b)+1)
	if b, _ := jsonIndented(st); len(b) != size {
		t.Fatalf("state.json of %d bytes, want %d", len(b), size)
	}
	return st
}

// jsonIndented is what writeJSON writes.
func jsonIndented(v any) ([]byte, error) {
	dir, err := os.MkdirTemp("", "state")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, "state.json")
	if err := writeJSON(name, v, false); err != nil {
		return nil, err
	}
	return os.ReadFile(name)
}

// TestSweepOrphansAmongLive: SweepOrphans reads each --rm container's monitor cheaply
// (readMonitor, one read of /proc/<pid>/stat) and still finds every orphan among many live
// containers, wherever it lists, whatever size its state.json is (one that fills or passes
// readMonitor's buffer included), and removes none whose monitor lives, nor one whose
// state.json it must not read (a FIFO, which it must not wait on, or a symlink).
func TestSweepOrphansAmongLive(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pids, starts := liveMonitors(t, 3)
	deadPid, deadStart := deadProcess(t)
	orphans := map[string]bool{}
	dirs := map[string]string{}
	add := func(name string, st State, orphan bool) *Container {
		t.Helper()
		c, err := s.Create(Config{Name: name, Image: "alpine", AutoRemove: true})
		if err != nil {
			t.Fatal(err)
		}
		c.State = st
		if err := c.saveState(); err != nil {
			t.Fatal(err)
		}
		orphans[name], dirs[name] = orphan, c.Dir
		return c
	}
	dead := State{Status: StatusRunning, MonitorPid: deadPid, MonitorStart: deadStart}
	for i := range 40 {
		k := i % len(pids)
		add(fmt.Sprintf("live-%d", i), State{Status: StatusRunning, MonitorPid: pids[k], MonitorStart: starts[k]}, false)
		if i%13 == 0 {
			add(fmt.Sprintf("orphan-%d", i), dead, true)
		}
	}
	add("orphan-pid-used-again", State{Status: StatusRunning, MonitorPid: pids[0], MonitorStart: starts[0] + 1}, true)
	for _, size := range []int{stateReadSize - 1, stateReadSize, stateReadSize + 1, stateReadSize + 2, 3 * stateReadSize} {
		add(fmt.Sprintf("orphan-state-%d", size), stateOfSize(t, dead, size), true)
		k := size % len(pids)
		live := State{Status: StatusRunning, MonitorPid: pids[k], MonitorStart: starts[k]}
		add(fmt.Sprintf("live-state-%d", size), stateOfSize(t, live, size), false)
	}
	fifo := add("fifo-state", dead, false)
	if err := os.Remove(filepath.Join(fifo.Dir, stateFile)); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(fifo.Dir, stateFile), 0o600); err != nil {
		t.Fatal(err)
	}
	link := add("symlinked-state", dead, false)
	elsewhere := filepath.Join(t.TempDir(), "state.json")
	if err := writeJSON(elsewhere, dead, false); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(link.Dir, stateFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(link.Dir, stateFile)); err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	go func() {
		_ = s.SweepOrphans() // its cgroup sweep may find what it cannot delete on this host
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("SweepOrphans still runs after 30s (waiting on a FIFO?)")
	}
	for name, orphan := range orphans {
		_, err := os.Lstat(dirs[name])
		if gone := errors.Is(err, os.ErrNotExist); gone != orphan {
			t.Errorf("container %s: removed = %v, want %v", name, gone, orphan)
		}
	}
}

// TestReadMonitor: readMonitor reads the monitor of a state.json as readJSON does, and fails
// where readJSON fails.
func TestReadMonitor(t *testing.T) {
	dir := t.TempDir()
	st := State{Status: StatusRunning, Pid: 7, MonitorPid: 4242, MonitorStart: 987654321}
	files := map[string]func(name string) error{
		"plain": func(name string) error { return writeJSON(name, st, false) },
		"no-monitor": func(name string) error {
			return writeJSON(name, State{Status: StatusCreated}, false)
		},
		"garbage":   func(name string) error { return os.WriteFile(name, []byte("{\"monitorPid\": "), 0o600) },
		"empty":     func(name string) error { return os.WriteFile(name, nil, 0o600) },
		"directory": func(name string) error { return os.Mkdir(name, 0o700) },
		"fifo":      func(name string) error { return syscall.Mkfifo(name, 0o600) },
		"symlink":   func(name string) error { return os.Symlink(filepath.Join(dir, "plain"), name) },
		"missing":   func(name string) error { return nil },
	}
	for _, size := range []int{stateReadSize - 1, stateReadSize, stateReadSize + 1, stateReadSize + 2, 5 * stateReadSize} {
		big := stateOfSize(t, st, size)
		files[fmt.Sprintf("size-%d", size)] = func(name string) error { return writeJSON(name, big, false) }
	}
	files["too-big"] = func(name string) error {
		return os.WriteFile(name, append([]byte(`{"monitorPid": 1, "error": "`), make([]byte, maxJSONSize)...), 0o600)
	}
	for name, write := range files {
		if err := write(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, stateReadSize)
	for name := range files {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			var want State
			werr := readJSON(path, &want)
			got, err := readMonitor(path, buf)
			if (err != nil) != (werr != nil) {
				t.Fatalf("readMonitor = %+v, %v; readJSON's error %v", got, err, werr)
			}
			if err == nil && (got.MonitorPid != want.MonitorPid || got.MonitorStart != want.MonitorStart) {
				t.Errorf("readMonitor = %+v, readJSON read monitor %d started %d", got, want.MonitorPid, want.MonitorStart)
			}
		})
	}
}
