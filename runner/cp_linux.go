package runner

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner/cgroups"
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
	// attached holds the targets of a stopped container's binds and volumes mounted in its
	// detached root, where docker's daemon mounts them for a copy: a path crosses them as a
	// running container's does (attachMounts). The others are found by name (open).
	attached map[string]bool
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
			if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNotFound) {
				unlock()
				return nil, err
			}
			// Its state.json is lost (an rm killed half-way, a hand edit), its config there:
			// stopped, as ps lists it and as export and diff read it.
			c.State = State{Status: StatusExited, ExitCode: ExitUnknown, Error: stateLostPrefix + err.Error()}
		}
		if c.State.Running() || c.State.starting() {
			unlock() // it started meanwhile: its live root then
			continue
		}
		// Down as read, yet a live run or monitor holds its cgroup (its state lost, or
		// written by a strata in another pid namespace): its writable layer is mounted
		// there, and an overlay of it mounted again for the copy is undefined behaviour
		// (overlayfs: "upperdir is in-use ... by another mount").
		if cgroups.Held(c.CgroupKey()) {
			unlock()
			return nil, fmt.Errorf("container %s: %w: its state does not show it running, but a live strata holds its cgroup", shortID(c.ID), ErrRunning)
		}
		// Its writable layer and its volumes' sources as a start checks them: the overlay
		// mounted for the copy follows an upper or work dir that is a symlink, and the copy
		// read and wrote the host dir it names.
		err = checkWritableLayer(c)
		if err == nil {
			err = checkVolumes(c)
		}
		if err != nil {
			unlock()
			return nil, err
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
		// The volumes go in a detached bind of the dir, never on the host's dir itself.
		if hasCopyMounts(c) {
			if tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH); err == nil {
				if privateTree(tree) == nil {
					unix.Close(fd)
					r.fd, r.attached = tree, attachMounts(c, tree)
				} else {
					unix.Close(tree)
				}
			}
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
		// A single lower is its own dir, the host's: nothing is mounted on it.
		if upper != "" || len(lowers) > 1 {
			r.attached = attachMounts(c, fd)
		}
	default:
		return nil, fmt.Errorf("root filesystem of type %q", m.Type)
	}
	r.mntID, _ = mountID(r.fd)
	return r, nil
}

// copyMount says whether m is a mount attachMounts mounts for a copy: a bind or a volume,
// which hold files of their own whether the container runs or not (a tmpfs is there only
// while it runs).
func copyMount(m mount.Mount) bool {
	return m.Type == "bind" || m.Type == TypeVolume && m.Source != ""
}

func hasCopyMounts(c *Container) bool {
	return slices.ContainsFunc(c.Config.Spec.Mounts, copyMount)
}

// attachMounts mounts c's binds and volumes in root, a detached mount of its filesystem, as
// docker's daemon mounts a stopped container's volumes for a copy (daemon.mountVolumes):
// outer ones first, each on its target resolved inside root (openat2 RESOLVE_IN_ROOT, the
// image's symlinks too) and made when missing, a dir or an empty file, as a start makes it;
// a read-only one read-only. A path then crosses them as it crosses a running container's:
// a tree copied into a dir above a volume reaches the volume, not the mountpoint beneath it,
// and a symlink in a volume leads where it leads in the container, not inside the volume.
// It returns the targets mounted: one that cannot be (a source gone, a target the image made
// a file; any before Linux 6.15, which mounts nothing on a detached mount) is left out, and
// open finds it by name.
func attachMounts(c *Container, root int) map[string]bool {
	var mounts []mount.Mount
	for _, m := range c.Config.Spec.Mounts {
		if copyMount(m) && path.Clean("/"+m.Target) != "/" {
			mounts = append(mounts, m)
		}
	}
	// docker's sortMounts: by the depth of the target, outer first.
	slices.SortStableFunc(mounts, func(a, b mount.Mount) int {
		return strings.Count(path.Clean("/"+a.Target), "/") - strings.Count(path.Clean("/"+b.Target), "/")
	})
	attached := map[string]bool{}
	if len(mounts) == 0 || !nestsDetached() {
		return attached
	}
	for _, m := range mounts {
		if attachMount(root, m) == nil {
			attached[path.Clean("/"+m.Target)] = true
		}
	}
	return attached
}

// nestsDetached says whether the kernel mounts on a detached mount (Linux 6.15): one tmpfs
// on another, neither on any path.
var nestsDetached = sync.OnceValue(func() bool {
	tmpfs := func() (int, error) {
		fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
		if err != nil {
			return -1, err
		}
		defer unix.Close(fsfd)
		if err := unix.FsconfigSetString(fsfd, "size", "4k"); err != nil {
			return -1, err
		}
		if err := unix.FsconfigCreate(fsfd); err != nil {
			return -1, err
		}
		return unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	}
	under, err := tmpfs()
	if err != nil {
		return false
	}
	defer unix.Close(under)
	over, err := tmpfs()
	if err != nil {
		return false
	}
	defer unix.Close(over)
	return unix.MoveMount(over, "", under, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH) == nil
})

func attachMount(root int, m mount.Mount) error {
	flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
	if m.Type == TypeVolume || slices.Contains(m.Options, "rbind") {
		flags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, m.Source, uint(flags))
	if err != nil {
		return err
	}
	defer unix.Close(tree)
	if err := privateTree(tree); err != nil {
		return err
	}
	if slices.Contains(m.Options, "ro") {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return err
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(tree, &st); err != nil {
		return err
	}
	target, err := makeMountpoint(root, path.Clean("/"+m.Target), st.Mode&unix.S_IFMT == unix.S_IFDIR, 0)
	if err != nil {
		return err
	}
	defer unix.Close(target)
	// A target the image's symlinks lead to the root ("/v -> /") is refused, as a start
	// refuses it: the mount would hide the whole container.
	var tst, rst unix.Stat_t
	if err := unix.Fstat(target, &tst); err != nil {
		return err
	}
	if err := unix.Fstat(root, &rst); err != nil {
		return err
	}
	if tst.Dev == rst.Dev && tst.Ino == rst.Ino {
		return fmt.Errorf("%s leads to the root", m.Target)
	}
	return unix.MoveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
}

// privateTree makes tree, a detached clone (open_tree), and the mounts under it private. A
// clone of a shared mount is a peer of its source, as a bind mount is: a mount moved onto a
// dir in it (a volume nested in a bind, any volume in the vfs driver's root) propagated to
// the source on the host, and stayed mounted there once the copy ended.
func privateTree(tree int) error {
	attr := unix.MountAttr{Propagation: unix.MS_PRIVATE}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("making a mount for the copy private: %w", err)
	}
	return nil
}

// makeMountpoint opens target inside root, making it when missing (a dir, or an empty file
// when dir is false) with the dirs above it, each by name in a dir already open (createAt).
func makeMountpoint(root int, target string, dir bool, depth int) (int, error) {
	fd, err := openInRoot(root, target, 0)
	if !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	parent, name := path.Dir(target), path.Base(target)
	if parent == target || depth > maxMountpointDepth {
		return -1, err
	}
	pfd, err := makeMountpoint(root, parent, true, depth+1)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	return createAt(pfd, name, dir)
}

// maxMountpointDepth bounds makeMountpoint's recursion: a target is at most PATH_MAX long.
const maxMountpointDepth = 2048

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
		if !copyMount(*vol) {
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
	if best == nil || r.attached[path.Clean("/"+best.Target)] {
		return nil, "" // mounted in the root: resolved there
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
		if r.attached[t] {
			continue
		}
		if t != "/" && (p == t || strings.HasPrefix(p, t+"/")) {
			return fmt.Errorf("a symlink leads into the container's mount %s, which a stopped container's copy reaches only by that path", t)
		}
	}
	return nil
}

func fdPathOf(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// checkWritable refuses a copy into the directory dirfd that docker refuses: into a
// --read-only container's root, or a read-only volume (vol, for a stopped container's found by
// name; else told by the mount dirfd is on).
func (r *CopyRoot) checkWritable(dirfd int, vol *mount.Mount) error {
	if vol != nil { // a stopped container's, found by name
		if slices.Contains(vol.Options, "ro") {
			return errVolumeReadOnly
		}
		return nil
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(dirfd, &fs); err != nil {
		return err
	}
	id, idErr := mountID(dirfd)
	onRoot := idErr != nil || r.mntID == 0 || id == r.mntID
	if !r.running && onRoot && r.readOnly {
		return ErrRootReadOnly // --read-only: the overlay mounted here is writable
	}
	if fs.Flags&unix.ST_RDONLY == 0 {
		return nil
	}
	if !onRoot {
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
