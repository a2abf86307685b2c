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
// process holds and that holds no process is stale.
//
// Between New's first mkdir and its hold, a cgroup is neither: New holds the parent lock
// (lockParent) shared through that window, and Sweep takes it exclusively while it takes the
// locks of the cgroups it judges, so it never judges one that is being made. (Strata before
// that lock made and held its cgroups within milliseconds, without it: Sweep still leaves
// alone a cgroup younger than StaleAge.)

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

// StaleAge is how old an unheld, empty cgroup must be before Sweep deletes it. The parent lock
// makes a cgroup New is making safe from Sweep at any age; the grace keeps safe those made
// meanwhile by a strata from before that lock, which took its hold within milliseconds.
const StaleAge = 5 * time.Second

// Sweep deletes the stale cgroups under strata's parent (see above): those named as container
// IDs (64 lower-case hex digits) that no process holds, that hold no process, and that were
// made more than minAge ago. It returns the names it deleted. A cgroup some process holds or
// uses, or that it cannot tell, is left alone; while some strata is making a cgroup, Sweep
// deletes nothing and the next one does. Where no cgroup exists it costs a stat per hierarchy.
func Sweep(minAge time.Duration) ([]string, error) { return host().sweep(minAge) }

func (h *hierarchy) sweep(minAge time.Duration) ([]string, error) {
	var parents []string
	switch h.mode {
	case modeV2:
		parents = []string{filepath.Join(h.root, h.parent)}
	case modeV1, modeHybrid:
		// Every cgroup New makes has a memory directory, made first of its v1 directories and
		// removed last (remove goes backwards): where memory is mounted, its parent alone
		// names every v1 cgroup, and listing one cgroupfs directory of dozens of files rather
		// than seven is most of what a sweep costs while containers run.
		if len(h.mounts) > 0 && slices.Contains(h.mounts[0].ctrls, "memory") {
			parents = []string{filepath.Join(h.mounts[0].dir, h.parent)}
		} else {
			for _, m := range h.mounts {
				parents = append(parents, filepath.Join(m.dir, h.parent))
			}
		}
		// A hybrid host's unified node is made after the v1 directories and removed before
		// them, but remove goes on past a node it cannot remove (EBUSY after rmWait: a
		// process still exiting, a child cgroup), so the node can outlive them all: the
		// unified parent names those. It is a small directory, and a stat when empty.
		if h.unified != "" {
			parents = append(parents, filepath.Join(h.unified, h.parent))
		}
	default:
		return nil, nil
	}
	names := map[string]bool{}
	for _, p := range parents {
		// A directory's link count is 2 plus its subdirectories (cgroupfs keeps it so, as
		// ext4 and tmpfs do): 2 means no cgroup under p, told by a stat, a quarter of the
		// cost of listing its dozens of interface files.
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err == nil && st.Nlink == 2 {
			continue
		}
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
	if len(names) == 0 {
		return nil, nil
	}
	// Each cgroup's lock is taken while no New is between its mkdir and its hold; judged
	// after, with the parent free again, as a New of a name that exists fails anyway.
	unlock, ok := h.tryLockParentExclusive()
	if !ok {
		return nil, nil
	}
	var locked []lockedCgroup
	for _, name := range slices.Sorted(maps.Keys(names)) {
		l, ok := h.lockUnheld(name)
		if !ok {
			continue
		}
		// A young one is let go at once: held through the removals of the stale ones before
		// it (each rmdir can wait out an RCU grace period, ~25 ms per controller), its lock
		// would make the orphan check of a killed run's fresh cgroup (held, InUse) wait for
		// this sweep, and count it in use after parentLockWait.
		if !l.old(minAge) {
			unix.Close(l.fd)
			continue
		}
		locked = append(locked, l)
	}
	unlock()
	var swept []string
	var errs []error
	for _, l := range locked {
		if sweepJudging != nil {
			sweepJudging(l.c.name)
		}
		ok, err := l.sweep(minAge)
		unix.Close(l.fd)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			swept = append(swept, l.c.name)
		}
	}
	return swept, errors.Join(errs...)
}

// lockedCgroup is a cgroup whose lock dir Sweep holds exclusively, through fd.
type lockedCgroup struct {
	c  *Cgroup
	fd int
}

// lockUnheld takes the lock of cgroup name exclusively, if it exists and no process holds it.
// Most cgroups a sweep meets are held (a live run or monitor): their lock is tried first, on
// the first of the cgroup's possible directories that exists, in the order of their names,
// which is the lock dir find's cgroup would give (lockDir); finding the whole cgroup, a stat
// of every controller's directory, follows only for one whose lock was free.
func (h *hierarchy) lockUnheld(name string) (lockedCgroup, bool) {
	if err := validName(name); err != nil {
		return lockedCgroup{}, false
	}
	var fd int
	var dir string
	for _, d := range h.possibleDirs(name) {
		var err error
		fd, err = unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return lockedCgroup{}, false
		}
		dir = d
		break
	}
	if dir == "" {
		return lockedCgroup{}, false // gone meanwhile
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		return lockedCgroup{}, false // held: in use
	}
	c, err := h.findLeft(name)
	if err != nil || c.lockDir() != dir {
		// Gone, or a directory came or went between the two looks: the next sweep judges it.
		unix.Close(fd)
		return lockedCgroup{}, false
	}
	return lockedCgroup{c: c, fd: fd}, true
}

// possibleDirs lists, sorted, every directory cgroup name can have: one per v1 mount and the
// unified node on a hybrid host, or its one directory on v2. find keeps those that exist.
func (h *hierarchy) possibleDirs(name string) []string {
	if h.mode == modeV2 {
		return []string{filepath.Join(h.root, h.parent, name)}
	}
	dirs := make([]string, 0, len(h.mounts)+1)
	for _, m := range h.mounts {
		dirs = append(dirs, filepath.Join(m.dir, h.parent, name))
	}
	if h.unified != "" {
		dirs = append(dirs, filepath.Join(h.unified, h.parent, name))
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

// findLeft is find for Sweep: it also finds a hybrid host's cgroup whose v1 directories are
// gone but whose unified node stayed (see sweep), which Load does not (no process uses one
// without its controllers). Its node is then its lock dir, which no process holds: a holder
// holds a v1 directory, whose names sort before "unified" (a Delete still removing those
// holds a removed one, and wants the node gone too).
func (h *hierarchy) findLeft(name string) (*Cgroup, error) {
	c, err := h.find(name)
	if err == nil || !errors.Is(err, ErrNotFound) || h.unified == "" {
		return c, err
	}
	dir := filepath.Join(h.unified, h.parent, name)
	if !isDir(dir) {
		return nil, err
	}
	return &Cgroup{h: h, name: name, ctrls: map[string]string{}, unified: dir, dirs: []string{dir}, fd: -1, hold: -1}, nil
}

// sweepJudging, when set (by tests), is called as Sweep comes to judge each stale cgroup it
// holds.
var sweepJudging func(name string)

// old reports whether l's cgroup was made (its lock dir last changed) at least minAge ago.
func (l lockedCgroup) old(minAge time.Duration) bool {
	var st unix.Stat_t
	if err := unix.Fstat(l.fd, &st); err != nil {
		return false
	}
	return time.Since(time.Unix(st.Mtim.Unix())) >= minAge
}

// sweep deletes l's cgroup if it is stale.
func (l lockedCgroup) sweep(minAge time.Duration) (bool, error) {
	c := l.c
	if !l.old(minAge) {
		return false, nil
	}
	for _, d := range c.dirs {
		// The cgroups the container made under its own (see removeTree) go with it, once
		// no process is left in them either.
		if !subtreeIdle(d) {
			return false, nil
		}
	}
	if err := c.remove(); err != nil {
		return false, fmt.Errorf("sweeping cgroup %s: %w", c.display(), err)
	}
	return true, nil
}

// parentLockDir is the directory whose flock is the parent lock: strata's parent in the v2
// tree, or in the first v1 mount (every v1 cgroup has a directory there but for the rare
// controller a limit needs, and the lock is only about the parent). "" when cgroups are not
// mounted.
func (h *hierarchy) parentLockDir() string {
	switch {
	case h.mode == modeV2:
		return filepath.Join(h.root, h.parent)
	case (h.mode == modeV1 || h.mode == modeHybrid) && len(h.mounts) > 0:
		return filepath.Join(h.mounts[0].dir, h.parent)
	}
	return ""
}

// lockParent takes the parent lock shared, for New, making strata's parent first if it is
// missing, and returns its release. A hierarchy whose files cannot be locked holds nothing,
// as in takeHold: Sweep cannot lock it either, and deletes nothing.
func (h *hierarchy) lockParent() (unlock func(), err error) {
	dir := h.parentLockDir()
	if dir == "" {
		return func() {}, nil // New fails on the missing hierarchy next
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		// The first cgroup strata makes on this host: the parent is made as New would.
		if h.mode == modeV2 {
			err = h.prepareV2Parent(dir)
		} else {
			err = h.makeParentV1(h.mounts[0].dir, h.parent, h.mounts[0].ctrls)
		}
		if err != nil {
			return nil, err
		}
		fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dir, err)
	}
	// Sweep holds it exclusively for a few microseconds; one that stops there (SIGSTOP, a
	// frozen cgroup) must not stop every run on the host, so New goes on without it after
	// parentLockWait. That is safe against the stopped Sweep, which judges only the cgroups it
	// listed before it took the lock; only another sweep, after it, could take this one.
	for deadline := time.Now().Add(parentLockWait); ; time.Sleep(time.Millisecond) {
		err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Close(fd) }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) || time.Now().After(deadline) {
			unix.Close(fd)
			return func() {}, nil
		}
	}
}

// parentLockWait bounds how long New waits for the parent lock.
const parentLockWait = time.Second

// tryLockParentExclusive takes the parent lock exclusively, for Sweep, without waiting: ok is
// false while a New holds it (or it cannot be taken).
func (h *hierarchy) tryLockParentExclusive() (unlock func(), ok bool) {
	dir := h.parentLockDir()
	if dir == "" {
		return nil, false
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		return nil, false
	}
	return func() { unix.Close(fd) }, true
}

// InUse reports whether the cgroup of container name exists and is in use: some process
// holds it (New, Load: the run or monitor of a container, alive in whatever pid or time
// namespace, where its recorded pid and start time tell nothing), or a process is in it or in
// a cgroup the container made under it. A cgroup it cannot judge counts as in use; a missing
// one does not.
func InUse(name string) bool { return host().inUse(name) }

func (h *hierarchy) inUse(name string) bool {
	c, held, err := h.held(name)
	if err != nil || held {
		return err == nil || !errors.Is(err, ErrNotFound)
	}
	for _, d := range c.dirs {
		// A process in it or in a cgroup the container made under it; empty ones of those
		// go with it (removeTree).
		if !subtreeIdle(d) {
			return isDir(d)
		}
	}
	return false
}

// Held reports whether the cgroup of container name exists and some process holds it (New,
// Load), which may be this one: a run or monitor that is alive. A cgroup that cannot be
// locked, or is gone, is held by none.
func Held(name string) bool {
	_, held, _ := host().held(name)
	return held
}

// held finds cgroup name and tells whether a process holds it: its lock cannot be taken
// exclusively but can be shared. One a Sweep locks exclusively (judging it, then deleting it)
// is waited for, up to parentLockWait, after which it counts as held; one it deleted is gone.
// (Where files cannot be locked nothing holds one, as in takeHold.) A lock dir that exists
// but cannot be opened counts as held.
func (h *hierarchy) held(name string) (*Cgroup, bool, error) {
	c, err := h.find(name)
	if err != nil {
		return nil, false, err
	}
	dir := c.lockDir()
	gone := fmt.Errorf("loading cgroup %s: %w", c.display(), ErrNotFound)
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, false, gone
	}
	if err != nil {
		return c, true, nil
	}
	defer unix.Close(fd)
	for deadline := time.Now().Add(parentLockWait); ; time.Sleep(time.Millisecond) {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			return c, false, nil
		}
		if unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB) == nil {
			// Shared holders only (a run or monitor), or the sweep let go between the two
			// tries: with our shared lock, exclusive fails only while another shares it.
			if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
				return c, false, nil
			}
			return c, true, nil
		}
		if !isDir(dir) {
			return nil, false, gone // swept
		}
		if time.Now().After(deadline) {
			return c, true, nil
		}
	}
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
