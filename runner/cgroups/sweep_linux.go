package cgroups

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// A strata killed in the first milliseconds of a run (SIGKILL, the OOM killer) leaves the
// cgroup it made for the container, empty, under strata's parent; no container dir may name
// it, as the cgroup is made before the dir. The parent is shared by every strata --root on
// the host, so which IDs a store holds tells nothing of the others: whether a cgroup is in use
// is told by the cgroup itself. Every process that makes or loads one (New, Load) holds a
// shared flock on one of its directories until it deletes it or exits, so that a strata that
// handed a cgroup to its monitor holds it until the monitor has loaded it. A cgroup that no
// process holds, that holds no process, and that is older than a minute is stale.

// lockDir is the directory of c whose flock says c is in use: the first of its directories
// by name, which New and Load find alike.
func (c *Cgroup) lockDir() string {
	if len(c.dirs) == 0 {
		return ""
	}
	return slices.Min(c.dirs)
}

// takeHold takes a shared flock on c's lock dir, waiting while Sweep holds it exclusively.
// It reports false when the dir is gone meanwhile (swept). A hierarchy whose files cannot be
// locked holds nothing: Sweep then finds nothing it can lock either.
func (c *Cgroup) takeHold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hold >= 0 {
		return true
	}
	dir := c.lockDir()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return !errors.Is(err, unix.ENOENT)
	}
	if err := flockRetry(fd, unix.LOCK_SH); err != nil {
		unix.Close(fd)
		return true
	}
	if !isDir(dir) {
		unix.Close(fd)
		return false
	}
	c.hold = fd
	return true
}

// Release ends this process's use of the cgroup without deleting it: it closes what Close
// closes and drops the hold New or Load took (see Sweep). A process that reads a cgroup
// again and again (stats) releases each one it loaded; Delete releases too.
func (c *Cgroup) Release() error {
	c.releaseHold()
	return c.Close()
}

// releaseHold drops the hold (Delete, Release).
func (c *Cgroup) releaseHold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hold >= 0 {
		unix.Close(c.hold)
		c.hold = -1
	}
}

func flockRetry(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// StaleAge is how old an unheld, empty cgroup must be before Sweep deletes it: a strata that
// makes one takes its hold within milliseconds.
const StaleAge = time.Minute

// Sweep deletes the stale cgroups under strata's parent (see above): those named as container
// IDs (64 lower-case hex digits) that no process holds, that hold no process, and that were
// made more than minAge ago. It returns the names it deleted. A cgroup some process holds or
// uses, or that it cannot tell, is left alone.
func Sweep(minAge time.Duration) ([]string, error) { return host().sweep(minAge) }

func (h *hierarchy) sweep(minAge time.Duration) ([]string, error) {
	var parents []string
	switch h.mode {
	case modeV2:
		parents = []string{filepath.Join(h.root, h.parent)}
	case modeV1, modeHybrid:
		for _, m := range h.mounts {
			parents = append(parents, filepath.Join(m.dir, h.parent))
		}
	default:
		return nil, nil
	}
	names := map[string]bool{}
	for _, p := range parents {
		entries, err := os.ReadDir(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("sweeping cgroups: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() && isContainerID(e.Name()) {
				names[e.Name()] = true
			}
		}
	}
	var swept []string
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(names)) {
		ok, err := h.sweepOne(name, minAge)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			swept = append(swept, name)
		}
	}
	return swept, errors.Join(errs...)
}

// sweepOne deletes the cgroup name if it is stale, holding its lock exclusively meanwhile.
func (h *hierarchy) sweepOne(name string, minAge time.Duration) (bool, error) {
	c, err := h.find(name)
	if err != nil {
		return false, nil // gone meanwhile
	}
	fd, err := unix.Open(c.lockDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, nil
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return false, nil // held: in use
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, nil
	}
	if time.Since(time.Unix(st.Mtim.Unix())) < minAge {
		return false, nil
	}
	for _, d := range c.dirs {
		pids, err := readPids(d)
		if err != nil || len(pids) > 0 {
			return false, nil
		}
		// A child cgroup (made inside the container) keeps it: rmdir would fail anyway.
		entries, err := os.ReadDir(d)
		if err != nil {
			return false, nil
		}
		for _, e := range entries {
			if e.IsDir() {
				return false, nil
			}
		}
	}
	if err := c.remove(); err != nil {
		return false, fmt.Errorf("sweeping cgroup %s: %w", c.display(), err)
	}
	return true, nil
}

// isContainerID reports whether name is a container ID: 64 lower-case hex digits.
func isContainerID(name string) bool {
	if len(name) != 64 {
		return false
	}
	for _, r := range name {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}
