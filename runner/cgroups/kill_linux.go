package cgroups

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Kill sends SIGKILL to every process in the cgroup and waits, a few seconds at most, until the
// cgroup is empty. Where the kernel has cgroup.kill (v2, or the unified node of a hybrid host;
// Linux 5.14+) that kills the whole tree atomically. Otherwise the cgroup is frozen so nothing
// can fork, every listed PID gets SIGKILL, the cgroup is thawed so the signals are delivered,
// and that repeats until no process is left (runc's signalAllProcesses does the same).
func (c *Cgroup) Kill() error {
	if err := c.kill(); err != nil {
		return fmt.Errorf("killing processes of cgroup %s: %w", c.display(), err)
	}
	return nil
}

func (c *Cgroup) kill() error {
	node := c.dir
	if node == "" {
		node = c.unified
	}
	if node != "" {
		if err := writeFile(node, "cgroup.kill", "1"); err != nil && !isNotExist(err) {
			return err
		}
	}
	if c.dir != "" {
		// Before Linux 5.14 there is no cgroup.kill; cgroup.freeze (5.2+) still stops forks.
		return c.killLoop(c.dir, func(frozen bool) error {
			if !frozen {
				return writeFile(c.dir, "cgroup.freeze", "0")
			}
			if err := writeFile(c.dir, "cgroup.freeze", "1"); err != nil {
				return err
			}
			// Freezing completes asynchronously; cgroup.events says when.
			return retry(100*time.Millisecond, func() (bool, error) {
				n, _, err := readKeyed(c.dir, "cgroup.events", "frozen")
				return err != nil || n == 1, err
			})
		})
	}
	dir := c.ctrls["freezer"]
	if dir == "" {
		// No freezer: kill what is listed and retry; a fork racing the loop is caught on
		// the next round.
		return c.killLoop(c.Path(), nil)
	}
	return c.killLoop(dir, func(frozen bool) error {
		if !frozen {
			return writeFile(dir, "freezer.state", "THAWED")
		}
		if err := writeFile(dir, "freezer.state", "FROZEN"); err != nil {
			return err
		}
		// FREEZING turns into FROZEN once every task has stopped; a task stuck in the kernel
		// can delay that, so wait only briefly and kill anyway.
		return retry(100*time.Millisecond, func() (bool, error) {
			s, err := readTrim(dir, "freezer.state")
			return err != nil || s == "FROZEN", err
		})
	})
}

// killLoop SIGKILLs the processes listed in dir/cgroup.procs, with the cgroup frozen around the
// listing when freeze is set, until the list is empty or c.h.wait has passed.
func (c *Cgroup) killLoop(dir string, freeze func(frozen bool) error) error {
	var left []int
	err := retry(c.h.wait, func() (bool, error) {
		pids, err := readPids(dir)
		if isNotExist(err) || err == nil && len(pids) == 0 {
			left = nil
			return true, nil
		}
		if err != nil {
			return true, err
		}
		var errs []error
		frozen := false
		if freeze != nil {
			// A failed freeze only weakens the race protection; killing must go on.
			if frozen = freeze(true) == nil; frozen {
				if p, err := readPids(dir); err == nil {
					pids = p
				}
			}
		}
		for _, pid := range pids {
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && err != unix.ESRCH {
				errs = append(errs, fmt.Errorf("sending SIGKILL to pid %d: %w", pid, err))
			}
		}
		if frozen {
			if err := freeze(false); err != nil {
				errs = append(errs, fmt.Errorf("thawing: %w", err))
			}
		}
		left = pids
		return false, errors.Join(errs...)
	})
	if err != nil {
		return err
	}
	if len(left) > 0 {
		if pids, err := readPids(dir); err == nil && len(pids) == 0 {
			return nil
		}
		return fmt.Errorf("%d processes still running after %v (pids %v)", len(left), c.h.wait, left)
	}
	return nil
}
