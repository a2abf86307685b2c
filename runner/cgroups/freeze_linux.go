package cgroups

import (
	"fmt"
	"time"
)

// freezeWait bounds how long Freeze waits for every process of the cgroup to stop: a task
// in an uninterruptible sleep (a hung NFS read) delays it, as with docker pause.
const freezeWait = 5 * time.Second

// Freeze stops every process of the cgroup, those it forks included, until Thaw (docker
// pause). It uses the cgroup2 freezer where the cgroup has a cgroup2 node (v2, and the unified
// node of a hybrid host), whose frozen processes a SIGKILL still ends, else the v1 freezer.
// It returns once the kernel says the cgroup is frozen, and fails with errNotFrozen, the
// cgroup thawed again, when it has not said so within freezeWait.
func (c *Cgroup) Freeze() error {
	if err := c.setFrozen(true); err != nil {
		return fmt.Errorf("freezing cgroup %s: %w", c.display(), err)
	}
	return nil
}

// Thaw lets the processes Freeze stopped run again (docker unpause).
func (c *Cgroup) Thaw() error {
	if err := c.setFrozen(false); err != nil {
		return fmt.Errorf("thawing cgroup %s: %w", c.display(), err)
	}
	return nil
}

// Frozen reports whether the cgroup is frozen or freezing: paused, for ps and inspect. Either
// freezer counts, the v1 one too on a hybrid host (another tool may have used it).
func (c *Cgroup) Frozen() (bool, error) {
	var firstErr error
	if node := c.v2Node(); node != "" {
		// cgroup.freeze is what was asked; cgroup.events' frozen says it is done.
		s, err := readTrim(node, "cgroup.freeze")
		if err == nil && s == "1" {
			return true, nil
		}
		firstErr = err
	}
	if dir := c.ctrls["freezer"]; dir != "" {
		s, err := readTrim(dir, "freezer.state")
		if err == nil && s != "THAWED" {
			return true, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return false, firstErr
}

// FreezeKillable reports whether Freeze stops the cgroup's processes with the cgroup2
// freezer, whose frozen processes a SIGKILL ends at once; the v1 freezer holds the kill
// until Thaw.
func (c *Cgroup) FreezeKillable() bool { return c.v2Node() != "" }

// v2Node is the cgroup's directory in a cgroup2 tree, if it has one.
func (c *Cgroup) v2Node() string {
	if c.dir != "" {
		return c.dir
	}
	return c.unified
}

// errNotFrozen is a freeze the kernel did not report done within freezeWait.
var errNotFrozen = fmt.Errorf("its processes did not all stop within %s", freezeWait)

func (c *Cgroup) setFrozen(frozen bool) error {
	if !frozen {
		// Both freezers: a v1 freeze of another tool's is undone too, as it shows paused.
		var err error
		if node := c.v2Node(); node != "" {
			err = writeFile(node, "cgroup.freeze", "0")
		}
		if dir := c.ctrls["freezer"]; dir != "" {
			if werr := writeFile(dir, "freezer.state", "THAWED"); err == nil {
				err = werr
			}
		}
		return err
	}
	// done: the kernel said frozen before freezeWait ran out (retry returns nil either way).
	done := false
	if node := c.v2Node(); node != "" {
		if err := writeFile(node, "cgroup.freeze", "1"); err != nil {
			return err
		}
		err := retry(freezeWait, func() (bool, error) {
			n, _, err := readKeyed(node, "cgroup.events", "frozen")
			done = err == nil && n == 1
			return err != nil || done, err
		})
		if err == nil && !done {
			err = errNotFrozen
		}
		if err != nil {
			// Not left half frozen, paused to ps, after a pause that failed.
			_ = writeFile(node, "cgroup.freeze", "0")
		}
		return err
	}
	dir := c.ctrls["freezer"]
	if dir == "" {
		return fmt.Errorf("%w: no freezer controller", ErrUnsupported)
	}
	if err := writeFile(dir, "freezer.state", "FROZEN"); err != nil {
		return err
	}
	err := retry(freezeWait, func() (bool, error) {
		s, err := readTrim(dir, "freezer.state")
		done = err == nil && s == "FROZEN"
		return err != nil || done, err
	})
	if err == nil && !done {
		err = errNotFrozen
	}
	if err != nil {
		// Left FREEZING, some processes stopped and some not: thawed again, as runc does.
		_ = writeFile(dir, "freezer.state", "THAWED")
	}
	return err
}

// IsFrozen reports whether container name's cgroup is frozen (paused), false when it has
// none. It takes no hold on the cgroup: ps asks it of every running container.
func IsFrozen(name string) bool {
	c, err := host().find(name)
	if err != nil {
		return false
	}
	frozen, err := c.Frozen()
	return err == nil && frozen
}
