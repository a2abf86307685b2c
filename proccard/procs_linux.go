package proccard

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/rmtree"
)

// errESRCH is what reading a /proc file of a process that exited meanwhile returns.
var errESRCH = unix.ESRCH

// Processes returns every process in the pid namespace of pid (the container's PID 1), or in
// a pid namespace nested in it, as `strata top` lists them, by host PID, each with its PID in
// the container's namespace (ContainerPid). A process belongs to the container when its
// /proc/<pid>/ns/pid is that namespace or one of its descendants: that counts what `exec`
// started and what the container's processes started in namespaces of their own (unshare -p,
// a container in the container), as docker top lists the whole cgroup, and leaves out
// strata's own helpers, which only share the cgroup.
func Processes(pid int) ([]Process, error) {
	dir, err := openProcDir(pid)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	var want unix.Stat_t
	if err := unix.Fstatat(dir, "ns/pid", &want, 0); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			return nil, ErrNoProcess
		}
		return nil, fmt.Errorf("reading pid namespace of %d: %w", pid, err)
	}
	init, err := readProcessAt(dir, pid)
	if err != nil {
		return nil, err
	}
	// The container's namespace is at this depth of every NSpid under it.
	depth := len(init.NSpid)
	wantNS := nsKey{want.Dev, want.Ino}
	inside := map[nsKey]bool{wantNS: true}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var out []Process
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// Everything through one open dir: the namespace and the files read are those of one
		// process, never a newcomer's that took the pid of one that exited meanwhile.
		if pr, ok := containerProcess(p, wantNS, inside); ok {
			if depth > 0 && len(pr.NSpid) >= depth {
				pr.ContainerPid = pr.NSpid[depth-1]
			}
			out = append(out, pr.Process)
		}
	}
	slices.SortFunc(out, func(a, b Process) int { return a.Pid - b.Pid })
	return out, nil
}

// ProcessesOf is Processes of pid, checked by owns to be the container's PID 1 (its cgroup,
// its parent), held as whileHeld holds it. A check before Processes(pid) leaves a gap in
// which the PID 1 can exit and a host process take its pid, whose namespace, the host's,
// would be listed as the container's.
func ProcessesOf(pid int, owns func() bool) ([]Process, error) {
	var procs []Process
	err := whileHeld(pid, owns, func() (err error) {
		procs, err = Processes(pid)
		return err
	})
	return procs, err
}

// ReadOf is Read of pid, checked by owns as ProcessesOf checks it: a card read after the
// container's PID 1 exited could describe the host process that took its pid.
func ReadOf(pid int, owns func() bool, opts Options) (*Card, error) {
	var card *Card
	err := whileHeld(pid, owns, func() (err error) {
		card, err = Read(pid, opts)
		return err
	})
	return card, err
}

// whileHeld runs read with pid held by a pidfd from before owns is asked until read has
// returned, and says ErrNoProcess when owns says no or the process exited meanwhile: while
// the pidfd's process has not exited, no other process can have its pid.
func whileHeld(pid int, owns func() bool, read func() error) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return ErrNoProcess
	}
	if err != nil {
		return fmt.Errorf("opening pidfd of %d: %w", pid, err)
	}
	defer unix.Close(fd)
	if !owns() {
		return ErrNoProcess
	}
	err = read()
	// Asked after a failed read too: a process that exited meanwhile takes its files with
	// it (a v1 cgroup's read ENODEV once its monitor removed it), and inspect of a container
	// that a restart policy was restarting failed with that error.
	if n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0); n > 0 {
		return ErrNoProcess
	}
	return err
}

// containerProcess reads process p when its pid namespace is want or nested in it; inside
// caches the answer per namespace. ok is false for another process, or one that exited.
func containerProcess(p int, want nsKey, inside map[nsKey]bool) (proc, bool) {
	dir, err := openProcDir(p)
	if err != nil {
		return proc{}, false
	}
	defer unix.Close(dir)
	var st unix.Stat_t
	if unix.Fstatat(dir, "ns/pid", &st, 0) != nil {
		return proc{}, false
	}
	k := nsKey{st.Dev, st.Ino}
	in, known := inside[k]
	if !known {
		in = nestedIn(dir, want)
		inside[k] = in
	}
	if !in {
		return proc{}, false
	}
	pr, err := readProcessAt(dir, p)
	return pr, err == nil
}

// nsKey names a namespace by its nsfs inode.
type nsKey struct{ dev, ino uint64 }

// maxPidNSDepth is the kernel's limit on nested pid namespaces (MAX_PID_NS_LEVEL).
const maxPidNSDepth = 32

// nestedIn reports whether the pid namespace of the process whose /proc dir is open at dir
// is a descendant of want, walking up its parents with NS_GET_PARENT, which fails (EPERM)
// once it would leave strata's own.
func nestedIn(dir int, want nsKey) bool {
	fd, err := unix.Openat(dir, "ns/pid", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	for range maxPidNSDepth {
		parent, err := unix.IoctlRetInt(fd, unix.NS_GET_PARENT)
		unix.Close(fd)
		if err != nil {
			return false
		}
		fd = parent
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil {
			break
		}
		if (nsKey{st.Dev, st.Ino}) == want {
			unix.Close(fd)
			return true
		}
	}
	unix.Close(fd)
	return false
}

var (
	passwdOnce sync.Once
	passwd     map[int]string
)

// userName returns the host's name for uid, "" when /etc/passwd has none. The container's
// processes may have uids the host does not name; top prints the number then.
func userName(uid int) string {
	passwdOnce.Do(func() {
		passwd = map[int]string{}
		f, err := os.Open("/etc/passwd")
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), ":")
			if len(fields) < 3 {
				continue
			}
			if n, err := strconv.Atoi(fields[2]); err == nil {
				if _, dup := passwd[n]; !dup {
					passwd[n] = fields[0]
				}
			}
		}
	})
	return passwd[uid]
}

// errSizeBudget stops a dirSize walk at its deadline.
var errSizeBudget = errors.New("size budget spent")

// dirSize sums the sizes of the regular files under dir, each hard-linked inode once, until
// deadline: partial says it stopped there, with what it had counted (or, past maxSizeDepth,
// without the deeper directories). The walk goes by descriptors, each directory opened by name
// in its parent's without following a symlink, each file stat'ed there the same way: a running
// container that swapped a directory of its upper dir for a symlink to a host dir between a
// listing and the next step led a walk by path names through it, and the card gave the host's
// files as the container's (a host file of 1 GiB in inspect's UpperSize). What goes or turns
// into something else while it is walked is skipped.
func dirSize(dir string, deadline time.Time) (total int64, partial bool, err error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, false, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	w := sizeWalk{deadline: deadline, seen: map[sizeKey]bool{}, buf: make([]byte, 32<<10)}
	err = w.dir(fd, 0)
	if errors.Is(err, errSizeBudget) {
		return w.total, true, nil
	}
	return w.total, w.partial, err
}

// maxSizeDepth bounds how deep dirSize descends, a descriptor held open a level.
const maxSizeDepth = 512

type sizeKey struct{ dev, ino uint64 }

// sizeWalk is dirSize's state.
type sizeWalk struct {
	deadline time.Time
	seen     map[sizeKey]bool // hard-linked inodes counted
	buf      []byte           // getdents' buffer, one for the whole walk
	n        int              // entries seen, for the deadline's checks
	total    int64
	partial  bool
}

// pastDeadline counts an entry and, every 256, tells whether the deadline has passed.
func (w *sizeWalk) pastDeadline() bool {
	w.n++
	return w.n%256 == 1 && time.Now().After(w.deadline)
}

// dir counts the entries of the directory open at fd, which it closes, and descends. The
// entries are read with getdents on fd: os.File's ReadDir stats an entry the filesystem gives
// no type for by its path name, which this walk has none of.
func (w *sizeWalk) dir(fd, depth int) error {
	defer unix.Close(fd)
	if w.pastDeadline() { // the first, dir itself: an empty tree is measured in time too
		return errSizeBudget
	}
	var subdirs []string
	err := rmtree.ReadEntries(fd, w.buf, func(name string, typ uint8) error {
		if w.pastDeadline() {
			return errSizeBudget
		}
		switch typ {
		case unix.DT_DIR:
			subdirs = append(subdirs, name)
			return nil
		case unix.DT_REG, unix.DT_UNKNOWN:
		default:
			return nil
		}
		var st unix.Stat_t
		if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			return nil // gone meanwhile
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			subdirs = append(subdirs, name)
		case unix.S_IFREG:
			k := sizeKey{st.Dev, st.Ino}
			if st.Nlink > 1 {
				if w.seen[k] {
					return nil
				}
				w.seen[k] = true
			}
			w.total += st.Size
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range subdirs {
		if depth+1 >= maxSizeDepth {
			w.partial = true
			return nil
		}
		sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // gone, or no directory any more (a symlink is not followed)
		}
		if err := w.dir(sub, depth+1); err != nil {
			return err
		}
	}
	return nil
}
