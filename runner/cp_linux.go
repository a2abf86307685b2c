package runner

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/mount"
)

// ErrRootReadOnly is docker's error for a copy into a --read-only container's root.
var ErrRootReadOnly = errors.New("container rootfs is marked read-only")

// errVolumeReadOnly is docker's error for a copy into a read-only volume.
var errVolumeReadOnly = errors.New("mounted volume is marked read-only")

// CopyRoot is a container's filesystem as `strata cp` reads and writes it: a descriptor of
// its root, inside which every container path is resolved (openat2 RESOLVE_IN_ROOT, never
// through a magic link), so the container's symlinks, ".." too, never lead out of it.
//
// A running container's root is its PID 1's (/proc/<pid>/root, with its volumes and binds),
// opened once the pid is known to still be the container's. A stopped container's is its
// overlay, mounted detached (fsmount, on no path: it goes with the last descriptor), under the
// container's lock, so no start mounts the same upper dir meanwhile.
type CopyRoot struct {
	fd      int
	running bool
	c       *Container
	unlock  func() error
	// readOnly: a stopped container's root that must not be written (--read-only, or no
	// upper dir).
	readOnly bool
	mntID    uint64
}

// OpenCopyRoot opens c's filesystem for a copy; Close releases it.
func OpenCopyRoot(c *Container) (*CopyRoot, error) {
	for range 3 {
		r, err := openRunningRoot(c)
		if !errors.Is(err, ErrNotRunning) {
			return r, err
		}
		unlock, err := c.Lock()
		if err != nil {
			return nil, err
		}
		if err := c.Reload(); err != nil {
			unlock()
			return nil, err
		}
		if c.State.Running() || c.State.starting() {
			unlock() // it started meanwhile: its live root then
			continue
		}
		r, err = openStoppedRoot(c)
		if err != nil {
			unlock()
			return nil, fmt.Errorf("container %s: %w", shortID(c.ID), err)
		}
		r.unlock = unlock
		return r, nil
	}
	return nil, fmt.Errorf("container %s: starting and stopping while copying", shortID(c.ID))
}

func openRunningRoot(c *Container) (*CopyRoot, error) {
	pid, pidfd, err := joinTarget(c)
	if err != nil {
		return nil, err
	}
	defer pidfd.Close()
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, notRunningIfExited(pid, pidfd, err)
	}
	// The pidfd shows the exit of the process it was opened on: still alive after the open,
	// the root opened was its own, not a newcomer's that took the pid.
	if err := notRunningIfExited(pid, pidfd, nil); err != nil {
		unix.Close(fd)
		return nil, err
	}
	r := &CopyRoot{fd: fd, running: true, c: c}
	r.mntID, _ = mountID(fd)
	return r, nil
}

func openStoppedRoot(c *Container) (*CopyRoot, error) {
	if c.Broken != nil {
		return nil, c.Broken
	}
	spec := c.Config.Spec
	if len(spec.Root) == 0 {
		return nil, errors.New("no root filesystem")
	}
	m := spec.Root[0]
	r := &CopyRoot{c: c, readOnly: spec.ReadOnly}
	switch m.Type {
	case "bind": // the vfs driver's copy, the container's own
		if !inDir(m.Source, c.Dir) {
			return nil, fmt.Errorf("its root %s is not in the container's dir", m.Source)
		}
		fd, err := unix.Open(m.Source, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		r.fd = fd
		for _, o := range m.Options {
			r.readOnly = r.readOnly || o == "ro"
		}
	case "overlay":
		lowers, upper, work := m.OverlayDirs()
		if upper != "" && (!inDir(upper, c.Dir) || !inDir(work, c.Dir)) {
			return nil, fmt.Errorf("its writable layer %s is not in the container's dir", upper)
		}
		var flags []string
		for _, o := range m.Options {
			if o == "userxattr" {
				flags = append(flags, o) // where its layers mark opaque dirs
			}
		}
		// A --rm container's overlay is volatile: a mount of it that was leaves a mark in
		// its workdir that the next mount refuses, which its start clears only when it ran
		// since boot. This mount is not volatile, so the mark of a run since boot goes
		// first, as a start clears it, and none is left for the start to come.
		if slices.Contains(m.Options, "volatile") {
			if err := readyVolatileRoot(c); err != nil {
				return nil, err
			}
		}
		fd, err := fsmountOverlay(lowers, upper, work, flags)
		if err != nil {
			return nil, fmt.Errorf("mounting its filesystem: %w", err)
		}
		r.fd = fd
		r.readOnly = r.readOnly || upper == ""
	default:
		return nil, fmt.Errorf("root filesystem of type %q", m.Type)
	}
	r.mntID, _ = mountID(r.fd)
	return r, nil
}

// fsmountOverlay mounts the overlay of lowers (top first), upper and work where no path
// leads to it, and returns a descriptor of its root. Without an upper dir it is read-only,
// and a single lower is its own root.
func fsmountOverlay(lowers []string, upper, work string, flags []string) (int, error) {
	if upper == "" && len(lowers) == 1 {
		return unix.Open(lowers[0], unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fsfd)
	set := func(k, v string) error {
		if err := unix.FsconfigSetString(fsfd, k, v); err != nil {
			return fmt.Errorf("%s=%s: %w", k, v, err)
		}
		return nil
	}
	if err := set("source", "overlay"); err != nil {
		return -1, err
	}
	for i, l := range lowers {
		err := set("lowerdir+", l)
		if err == nil {
			continue
		}
		// Before 6.8 overlayfs knows only "lowerdir", one string of at most 255 bytes.
		joined := escapeLowers(lowers)
		if i != 0 || !errors.Is(err, unix.EINVAL) || len(joined) > 255 {
			return -1, fmt.Errorf("%w (a stopped container of this many layers needs Linux 6.8 to copy with)", err)
		}
		if err := set("lowerdir", joined); err != nil {
			return -1, err
		}
		break
	}
	if upper != "" {
		if err := set("upperdir", strings.ReplaceAll(upper, `\`, `\\`)); err != nil {
			return -1, err
		}
		if err := set("workdir", strings.ReplaceAll(work, `\`, `\\`)); err != nil {
			return -1, err
		}
	}
	for _, f := range flags {
		if err := unix.FsconfigSetFlag(fsfd, f); err != nil {
			return -1, fmt.Errorf("%s: %w", f, err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, fmt.Errorf("creating overlay: %w", err)
	}
	// nodev, nosuid, noexec: nothing on it runs or opens a device for strata.
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsmount: %w", err)
	}
	return mfd, nil
}

// escapeLowers joins lowerdirs as overlayfs reads "lowerdir": ":" separates them, so a ":"
// or a backslash in a path is escaped.
func escapeLowers(lowers []string) string {
	esc := make([]string, len(lowers))
	for i, l := range lowers {
		esc[i] = strings.NewReplacer(`\`, `\\`, ":", `\:`).Replace(l)
	}
	return strings.Join(esc, ":")
}

// Close releases the root, and a stopped container's lock.
func (r *CopyRoot) Close() error {
	err := unix.Close(r.fd)
	if r.unlock != nil {
		err = errors.Join(err, r.unlock())
	}
	return err
}

// Running says whether the root is a running container's.
func (r *CopyRoot) Running() bool { return r.running }

// Open opens p, a container path, O_PATH inside the root: every symlink on the way is
// followed inside it, the last one only when followLast. In a stopped container, a path under
// one of its binds or volumes is that mount's source, resolved inside it, as docker mounts a
// stopped container's volumes for a copy.
func (r *CopyRoot) Open(p string, followLast bool) (int, error) {
	fd, _, err := r.open(p, followLast)
	return fd, err
}

// OpenForWrite opens the directory p to copy into, refusing where docker refuses: a
// --read-only container's root, a read-only volume.
func (r *CopyRoot) OpenForWrite(p string) (int, error) {
	fd, vol, err := r.open(p, true)
	if err != nil {
		return -1, err
	}
	if err := checkKernelFS(fd, p); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := r.checkWritable(fd, vol); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// kernelFS names the filesystems of a running container's mounts that hold the kernel's
// entries, not files: a copy into one fails in the kernel's words at best (procfs has no room
// to report, so it read as a full disk), and makes a queue or a cgroup at worst. docker's copy
// never meets them: it writes into the image's empty mountpoints under them.
var kernelFS = map[int64]string{
	unix.PROC_SUPER_MAGIC:    "proc",
	unix.SYSFS_MAGIC:         "sysfs",
	unix.CGROUP_SUPER_MAGIC:  "cgroup",
	unix.CGROUP2_SUPER_MAGIC: "cgroup2",
	unix.DEVPTS_SUPER_MAGIC:  "devpts",
	mqueueMagic:              "mqueue",
	unix.SECURITYFS_MAGIC:    "securityfs",
	unix.DEBUGFS_MAGIC:       "debugfs",
	unix.TRACEFS_MAGIC:       "tracefs",
	unix.BPF_FS_MAGIC:        "bpf",
	unix.PSTOREFS_MAGIC:      "pstore",
	unix.NSFS_MAGIC:          "nsfs",
}

// mqueueMagic is the mqueue filesystem's f_type (linux/magic.h), which x/sys/unix lacks.
const mqueueMagic = 0x19800202

// checkKernelFS refuses a copy into the directory dirfd (p in the container) on one of
// kernelFS.
func checkKernelFS(dirfd int, p string) error {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(dirfd, &fs); err != nil {
		return err
	}
	if name, ok := kernelFS[int64(fs.Type)]; ok {
		return fmt.Errorf("%s: cannot copy into the kernel's %s filesystem", p, name)
	}
	return nil
}

// OnStore says whether the directory dirfd, opened by OpenForWrite, is on the filesystem of
// strata's store: the container's writable layer, a named volume, a bind of a dir on that
// disk. A copy there keeps the store's free-space floor; elsewhere (a bind of another disk, a
// tmpfs) it fills what it fills, as docker's does.
func (r *CopyRoot) OnStore(dirfd int) bool {
	if id, err := mountID(dirfd); err == nil && r.mntID != 0 && id == r.mntID {
		return true // the root: its upper dir is in the store, whatever device the overlay shows
	}
	var st, store unix.Stat_t
	if r.c == nil || unix.Fstat(dirfd, &st) != nil || unix.Stat(r.c.Dir, &store) != nil {
		return true // when in doubt, the floor
	}
	return st.Dev == store.Dev
}

func (r *CopyRoot) open(p string, followLast bool) (fd int, vol *mount.Mount, err error) {
	root := r.fd
	if vol, rest := r.volumeOf(p); vol != nil {
		if vol.Type != "bind" {
			return -1, nil, fmt.Errorf("%s: the container's %s mount is only there while it runs", vol.Target, vol.Type)
		}
		vfd, err := unix.Open(vol.Source, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, nil, fmt.Errorf("opening the source of %s: %w", vol.Target, err)
		}
		defer unix.Close(vfd)
		fd, err := openInRootFollow(vfd, rest, followLast)
		return fd, vol, err
	}
	fd, err = openInRootFollow(root, p, followLast)
	if err == nil {
		if verr := r.checkVolume(fd); verr != nil {
			unix.Close(fd)
			return -1, nil, verr
		}
	}
	return fd, nil, err
}

// volumeOf finds the bind or volume of a stopped container that p is at or under, by name,
// the innermost one, and p's path inside it (trailing "/" or "/." kept).
func (r *CopyRoot) volumeOf(p string) (*mount.Mount, string) {
	if r.running || r.c == nil {
		return nil, ""
	}
	clean := path.Clean("/" + p)
	var best *mount.Mount
	for i, m := range r.c.Config.Spec.Mounts {
		t := path.Clean("/" + m.Target)
		if t != "/" && (clean == t || strings.HasPrefix(clean, t+"/")) && (best == nil || len(t) > len(path.Clean("/"+best.Target))) {
			best = &r.c.Config.Spec.Mounts[i]
		}
	}
	if best == nil {
		return nil, ""
	}
	rest := strings.TrimPrefix(clean, path.Clean("/"+best.Target))
	if strings.HasSuffix(p, "/.") {
		rest += "/."
	} else if strings.HasSuffix(p, "/") {
		rest += "/"
	}
	return best, rest
}

// openInRootFollow is openat2(root, p, O_PATH) confined to root, never through a magic link.
func openInRootFollow(root int, p string, followLast bool) (int, error) {
	flags := uint64(unix.O_PATH | unix.O_CLOEXEC)
	if !followLast {
		flags |= unix.O_NOFOLLOW
	}
	p = strings.TrimLeft(p, "/")
	if p == "" {
		p = "."
	}
	how := unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for range 64 {
		fd, err := unix.Openat2(root, p, &how)
		if err != unix.EAGAIN && err != unix.EINTR {
			return fd, err
		}
	}
	return -1, unix.EAGAIN
}

// checkVolume refuses, for a stopped container, a path its symlinks led into one of its
// mounts: the overlay has only the empty mountpoint there.
func (r *CopyRoot) checkVolume(fd int) error {
	if r.running || r.c == nil || len(r.c.Config.Spec.Mounts) == 0 {
		return nil
	}
	p, err := os.Readlink(fdPathOf(fd))
	if err != nil {
		return nil
	}
	// The detached mount's paths read from its root: "/" and below.
	for _, m := range r.c.Config.Spec.Mounts {
		t := path.Clean("/" + m.Target)
		if t != "/" && (p == t || strings.HasPrefix(p, t+"/")) {
			return fmt.Errorf("a symlink leads into the container's mount %s, which a stopped container's copy reaches only by that path", t)
		}
	}
	return nil
}

func fdPathOf(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// checkWritable refuses a copy into the directory dirfd that docker refuses: into a
// --read-only container's root, or a read-only volume (vol, for a stopped container).
func (r *CopyRoot) checkWritable(dirfd int, vol *mount.Mount) error {
	if !r.running {
		switch {
		case vol != nil && slices.Contains(vol.Options, "ro"):
			return errVolumeReadOnly
		case vol == nil && r.readOnly:
			return ErrRootReadOnly
		}
		return nil
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(dirfd, &fs); err != nil {
		return err
	}
	if fs.Flags&unix.ST_RDONLY == 0 {
		return nil
	}
	if id, err := mountID(dirfd); err == nil && r.mntID != 0 && id != r.mntID {
		return errVolumeReadOnly
	}
	return ErrRootReadOnly
}

// mountID is the id of the mount fd is on.
func mountID(fd int) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, err
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, errors.ErrUnsupported
	}
	return stx.Mnt_id, nil
}
