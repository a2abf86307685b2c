package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Cgroup is one container's cgroup: a single directory on v2, one directory per mounted
// controller on v1 (plus a node in the unified tree on hybrid hosts). Its methods are safe for
// concurrent use.
type Cgroup struct {
	h    *hierarchy
	name string
	// parent is the directory the cgroup sits in, relative to each tree's root: strata's, or
	// a --cgroup-parent (Key).
	parent string
	// dir is the cgroup's directory on v2, "" on v1.
	dir string
	// ctrls maps each v1 controller to the container's directory in it.
	ctrls map[string]string
	// unified is the container's node in a hybrid host's cgroup2 tree, "" if there is none.
	// It holds no limits; it gives Kill an atomic cgroup.kill.
	unified string
	// dirs is every directory that makes up the cgroup, in creation order.
	dirs []string

	mu sync.Mutex
	fd int // O_PATH fd of dir once DirFD opened it, else -1
	// join is the O_PATH fd BirthFDFor opened of a cgroup under dir, nil if none.
	join *os.File
	// hold is an fd of the cgroup's lock dir with a shared flock (see Sweep), held from New
	// or Load until Delete or the process's exit; -1 if none.
	hold int
}

// New creates the cgroup for container name under strata's parent and applies r. On v2 it first
// enables strata's controllers in the parents' cgroup.subtree_control. A limit the host cannot
// enforce is an error wrapping ErrUnsupported; a bad value wraps ErrInvalid; an existing cgroup
// of that name is ErrExists. On any error the directories New made are removed again.
func New(name string, r Resources) (*Cgroup, error) { return host().create(name, r) }

// Load returns the existing cgroup of container name, or an error wrapping ErrNotFound.
func Load(name string) (*Cgroup, error) { return host().load(name) }

func (h *hierarchy) create(name string, r Resources) (_ *Cgroup, retErr error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	parent, err := h.parentOf(r.CgroupParent)
	if err != nil {
		return nil, err
	}
	c := &Cgroup{h: h, name: name, parent: parent, fd: -1, hold: -1}
	defer func() {
		if retErr != nil {
			retErr = fmt.Errorf("creating cgroup %s: %w", c.display(), retErr)
			if err := c.remove(); err != nil {
				retErr = errors.Join(retErr, err)
			}
		}
	}()
	if err := r.Validate(); err != nil {
		return nil, err
	}
	// From before the first mkdir until the hold is taken, the cgroup is no process's to a
	// Sweep's eyes: the parent lock covers that window (see Sweep).
	unlock, err := h.lockParent()
	if err != nil {
		return nil, err
	}
	defer unlock()
	switch h.mode {
	case modeV2:
		err = c.createV2(r)
	case modeV1, modeHybrid:
		err = c.createV1(r)
	default:
		err = fmt.Errorf("%w: no cgroup filesystem is mounted at %s", ErrUnsupported, h.root)
	}
	if err != nil {
		return nil, err
	}
	if !c.takeHold() {
		// Deleted under us: only a sweep that ignores the parent lock (an older strata's) can.
		return nil, fmt.Errorf("%w: it was deleted while it was made", ErrNotFound)
	}
	return c, nil
}

func (h *hierarchy) load(name string) (*Cgroup, error) {
	c, err := h.find(name)
	if err != nil {
		return nil, err
	}
	if !c.takeHold() {
		// Swept (Sweep) while we waited for its lock.
		return nil, fmt.Errorf("loading cgroup %s: %w", c.display(), ErrNotFound)
	}
	return c, nil
}

// find is load without taking the hold.
func (h *hierarchy) find(name string) (*Cgroup, error) {
	parent, name, err := h.splitKey(name)
	if err != nil {
		return nil, err
	}
	c := &Cgroup{h: h, name: name, parent: parent, fd: -1, hold: -1}
	if h.mode == modeV2 {
		dir := filepath.Join(h.root, parent, name)
		if !isDir(dir) {
			return nil, fmt.Errorf("loading cgroup %s: %w", c.display(), ErrNotFound)
		}
		c.dir, c.dirs = dir, []string{dir}
		return c, nil
	}
	c.ctrls = map[string]string{}
	for _, m := range h.mounts {
		dir := filepath.Join(m.dir, parent, name)
		if !isDir(dir) {
			continue
		}
		c.dirs = append(c.dirs, dir)
		for _, ctrl := range m.ctrls {
			c.ctrls[ctrl] = dir
		}
	}
	if len(c.dirs) == 0 {
		return nil, fmt.Errorf("loading cgroup %s: %w", c.display(), ErrNotFound)
	}
	if h.unified != "" {
		if dir := filepath.Join(h.unified, parent, name); isDir(dir) {
			c.unified = dir
			c.dirs = append(c.dirs, dir)
		}
	}
	return c, nil
}

// validName rejects container names that are not one plain path component: the name becomes
// a directory under strata's parent and must not climb out of it.
func validName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 255 ||
		strings.ContainsAny(name, "/\x00\n") {
		return &ValueError{What: "cgroup name", Value: name}
	}
	return nil
}

func isDir(p string) bool {
	var st unix.Stat_t
	return unix.Stat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// display names the cgroup in messages: strata/<name>.
func (c *Cgroup) display() string { return c.parent + "/" + c.name }

// Name returns the container name the cgroup was created or loaded with.
func (c *Cgroup) Name() string { return c.name }

// Path returns the cgroup's directory for display: the v2 directory, or on v1 the memory
// controller's (the one users look at first), else the first controller's.
func (c *Cgroup) Path() string {
	if c.dir != "" {
		return c.dir
	}
	if d := c.ctrls["memory"]; d != "" {
		return d
	}
	if len(c.dirs) > 0 {
		return c.dirs[0]
	}
	return ""
}

// AddProc moves process pid (with all its threads) into the cgroup, in every controller.
func (c *Cgroup) AddProc(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("adding pid %d to cgroup %s: %w", pid, c.display(), ErrInvalid)
	}
	s := strconv.Itoa(pid)
	for _, dir := range c.dirs {
		if err := writeFile(dir, "cgroup.procs", s); err != nil {
			return fmt.Errorf("adding pid %d to cgroup %s: %w", pid, c.display(), err)
		}
	}
	return nil
}

// DirFD returns an O_PATH directory fd of the v2 cgroup for SysProcAttr.UseCgroupFD, so the
// child is born in its cgroup (clone3 CLONE_INTO_CGROUP) with no window running outside it.
// ok is false on v1 and hybrid hosts, where the caller must AddProc instead. The fd belongs to
// the Cgroup: Close or Delete closes it.
func (c *Cgroup) DirFD() (fd int, ok bool) {
	if c.dir == "" {
		return -1, false
	}
	return c.openFD(c.dir)
}

// BirthFD is DirFD for a child that joins the rest of the cgroup itself (JoinThread): on a
// hybrid host it is the container's node in the unified tree, which a clone can be born into
// as on v2. ok is false where there is no such node (pure v1).
func (c *Cgroup) BirthFD() (fd int, ok bool) {
	switch {
	case c.dir != "":
		return c.openFD(c.dir)
	case c.unified != "":
		return c.openFD(c.unified)
	}
	return -1, false
}

// ThreadDirs are the v1 directories a child born at BirthFD must still join: the container's
// directory in each v1 controller, none on v2. See JoinThread.
func (c *Cgroup) ThreadDirs() []string {
	var dirs []string
	for _, d := range c.dirs {
		if d != c.dir && d != c.unified {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// JoinThread moves the calling thread into the v1 cgroup directories dirs, by writing 0 to
// their tasks files. Moving oneself is the one cgroup move the kernel makes without its global
// threadgroup lock, whose writers wait for an RCU grace period (6–25 ms here) whenever no
// other move came just before: AddProc of a whole process pays that wait, this does not. The
// other threads stay where they were, so the caller locks its OS thread and execs from it (the
// container's init does), after which the process is that thread alone.
func JoinThread(dirs []string) error {
	for _, d := range dirs {
		if err := writeFile(d, "tasks", "0"); err != nil {
			return fmt.Errorf("joining cgroup %s: %w", d, err)
		}
	}
	return nil
}

// openFD opens dir O_PATH once and keeps it as the Cgroup's fd.
func (c *Cgroup) openFD(dir string) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, false
		}
		c.fd = fd
	}
	return c.fd, true
}

// Close releases the fd DirFD opened; the cgroup itself stays. It is safe to call twice.
func (c *Cgroup) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.join != nil {
		c.join.Close()
		c.join = nil
	}
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	if err != nil {
		return fmt.Errorf("closing cgroup %s: %w", c.display(), err)
	}
	return nil
}

// Procs returns the PIDs of the processes in the cgroup.
func (c *Cgroup) Procs() ([]int, error) {
	pids, err := readPids(c.Path())
	if err != nil {
		return nil, fmt.Errorf("listing processes of cgroup %s: %w", c.display(), err)
	}
	return pids, nil
}

// Delete removes every directory of the cgroup. Processes that are still exiting keep a cgroup
// busy for a moment, so an EBUSY is retried for up to a second; after that the error wraps
// ErrBusy (Kill the processes first). A cgroup already gone is not an error.
func (c *Cgroup) Delete() error {
	c.addGrown()
	err := c.remove()
	if cerr := c.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	c.releaseHold()
	return err
}

// remove rmdirs the cgroup's directories, last made first.
func (c *Cgroup) remove() error {
	var errs []error
	for i := len(c.dirs) - 1; i >= 0; i-- {
		dir := c.dirs[i]
		err := retry(c.h.rmWait, func() (bool, error) {
			err := c.h.removeTree(dir)
			if err == nil || isNotExist(err) {
				return true, nil
			}
			return !errors.Is(err, unix.EBUSY), err
		})
		switch {
		case errors.Is(err, unix.EBUSY):
			errs = append(errs, fmt.Errorf("removing cgroup %s: %w: %w", dir, ErrBusy, err))
		case err != nil:
			errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// removeTree rmdirs dir, a directory of a container's cgroup. The container may have made
// cgroups under it: a --privileged one's /sys/fs/cgroup is writable, and docker-in-docker,
// systemd or any runtime nested in it make their own there, which keep dir busy. When rmdir
// finds dir busy, those go first, deepest first, as runc's RemovePath does; one still holding
// a process keeps it busy, as one of dir's own does.
func (h *hierarchy) removeTree(dir string) error {
	err := h.rmdir(dir)
	if !errors.Is(err, unix.EBUSY) {
		return err
	}
	entries, rerr := os.ReadDir(dir)
	if rerr != nil {
		return err
	}
	sub := false
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub = true
		if cerr := h.removeTree(filepath.Join(dir, e.Name())); cerr != nil && !isNotExist(cerr) {
			return cerr
		}
	}
	if !sub {
		return err // processes of its own
	}
	return h.rmdir(dir)
}

// subtreeIdle reports whether no process is in the cgroup directory dir or in a cgroup the
// container made under it (see removeTree); false when that cannot be told.
func subtreeIdle(dir string) bool {
	// v2 (and a hybrid host's unified node) says so for the whole subtree at once.
	if n, ok, err := readKeyed(dir, "cgroup.events", "populated"); err == nil && ok && n > 0 {
		return false
	}
	if pids, err := readPids(dir); err != nil || len(pids) > 0 {
		return false
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.IsDir() && !subtreeIdle(filepath.Join(dir, e.Name())) {
			return false
		}
	}
	return true
}

// addGrown adds to c the v1 cpu and cpuset directories that an update (growV1) in another
// process made after c was made or loaded, so that Delete removes them too: a stat or two.
func (c *Cgroup) addGrown() {
	if c.dir != "" || c.ctrls == nil {
		return
	}
	for _, m := range c.h.mounts {
		if c.ctrls[m.ctrls[0]] != "" || !slices.ContainsFunc(m.ctrls, func(ctrl string) bool { return ctrl == "cpu" || ctrl == "cpuset" }) {
			continue
		}
		if dir := filepath.Join(m.dir, c.parent, c.name); isDir(dir) {
			c.dirs = append(c.dirs, dir)
			for _, ctrl := range m.ctrls {
				c.ctrls[ctrl] = dir
			}
		}
	}
}
