package runner

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// deadProcess returns the pid and start time of a process that has exited, as a monitor killed
// after recording itself leaves them in state.json.
func deadProcess(t *testing.T) (pid int, start uint64) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start, err := processStart(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return cmd.Process.Pid, start
}

// TestRemoveOrphans: of the containers in a store, RemoveOrphans and SweepOrphans remove only
// the --rm ones whose recorded monitor (the foreground run that created them, or a monitor) is
// gone. A live process with the recorded pid but another start time (the pid used again) does
// not keep one. A container without --rm, one no monitor ever took (`create --rm`), one whose
// monitor lives, one a live Restart marked and one whose lock another strata holds are kept.
func TestRemoveOrphans(t *testing.T) {
	deadPid, deadStart := deadProcess(t)
	ownStart, err := processStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name       string
		autoRemove bool
		pid        int
		start      uint64
		status     Status
		setup      func(t *testing.T, c *Container)
		orphan     bool
	}
	rows := []row{
		{name: "killed-before-start", autoRemove: true, pid: deadPid, start: deadStart, status: StatusCreated, orphan: true},
		{name: "killed-while-running", autoRemove: true, pid: deadPid, start: deadStart, status: StatusRunning, orphan: true},
		{name: "pid-used-again", autoRemove: true, pid: os.Getpid(), start: ownStart + 1, status: StatusCreated, orphan: true},
		{name: "starting", autoRemove: true, pid: os.Getpid(), start: ownStart, status: StatusCreated},
		{name: "not-rm", pid: deadPid, start: deadStart, status: StatusCreated},
		{name: "created-rm", autoRemove: true, status: StatusCreated},
		{name: "restarting", autoRemove: true, pid: deadPid, start: deadStart, status: StatusExited, setup: func(t *testing.T, c *Container) {
			if err := os.WriteFile(filepath.Join(c.Dir, restartingFile), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "restarting-live", autoRemove: true, pid: deadPid, start: deadStart, status: StatusExited, setup: func(t *testing.T, c *Container) {
			mark := fmt.Appendf(nil, "%d %d\n", os.Getpid(), ownStart)
			if err := os.WriteFile(filepath.Join(c.Dir, restartingFile), mark, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		// A restart killed between its stop and its start: its mark speaks for no one.
		{name: "restart-killed", autoRemove: true, pid: deadPid, start: deadStart, status: StatusExited, setup: func(t *testing.T, c *Container) {
			mark := fmt.Appendf(nil, "%d %d\n", deadPid, deadStart)
			if err := os.WriteFile(filepath.Join(c.Dir, restartingFile), mark, 0o600); err != nil {
				t.Fatal(err)
			}
		}, orphan: true},
		{name: "locked", autoRemove: true, pid: deadPid, start: deadStart, status: StatusCreated, setup: func(t *testing.T, c *Container) {
			unlock, err := c.Lock() // another strata starting or removing it
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = unlock() })
		}},
	}
	fill := func(t *testing.T, s *Store) map[string]*Container {
		t.Helper()
		byName := map[string]*Container{}
		for _, r := range rows {
			c, err := s.Create(Config{Name: r.name, Image: "alpine", AutoRemove: r.autoRemove})
			if err != nil {
				t.Fatal(err)
			}
			c.State = State{Status: r.status, MonitorPid: r.pid, MonitorStart: r.start}
			if err := c.saveState(); err != nil {
				t.Fatal(err)
			}
			if r.setup != nil {
				r.setup(t, c)
			}
			byName[r.name] = c
		}
		return byName
	}
	check := func(t *testing.T, s *Store, byName map[string]*Container, listed []*Container) {
		t.Helper()
		for _, r := range rows {
			_, err := os.Lstat(byName[r.name].Dir)
			gone := errors.Is(err, os.ErrNotExist)
			if gone != r.orphan {
				t.Errorf("container %s: removed = %v, want %v", r.name, gone, r.orphan)
			}
			inList := slices.ContainsFunc(listed, func(c *Container) bool { return c.Config.Name == r.name })
			if listed != nil && inList == r.orphan {
				t.Errorf("container %s: in the list RemoveOrphans returned = %v, want %v", r.name, inList, !r.orphan)
			}
		}
	}
	t.Run("RemoveOrphans", func(t *testing.T) {
		s, err := OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		byName := fill(t, s)
		list, err := s.List()
		if err != nil {
			t.Fatal(err)
		}
		kept, err := s.RemoveOrphans(list)
		if err != nil {
			t.Errorf("RemoveOrphans = %v", err)
		}
		check(t, s, byName, kept)
	})
	t.Run("SweepOrphans", func(t *testing.T) {
		s, err := OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		byName := fill(t, s)
		_ = s.SweepOrphans() // its cgroup sweep may find what it cannot delete on this host
		check(t, s, byName, nil)
	})
	t.Run("NameOfOrphan", func(t *testing.T) {
		// `run --rm --name x` again after the first was killed: the name is free.
		s, err := OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		byName := fill(t, s)
		for _, r := range rows {
			_, err := s.Create(Config{Name: r.name, Image: "alpine"})
			if r.orphan && err != nil {
				t.Errorf("Create(%s) after its holder was orphaned = %v, want the name taken", r.name, err)
			}
			if !r.orphan && !errors.Is(err, ErrNameInUse) {
				t.Errorf("Create(%s) = %v, want ErrNameInUse", r.name, err)
			}
		}
		check(t, s, byName, nil)
	})
}
