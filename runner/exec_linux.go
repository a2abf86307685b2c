package runner

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// planApplier is the executor for plan: it runs steps in the init's mount namespace, in
// order, over as many calls to apply as the init needs (it stops between them to wait for
// its parent). Before the pivot, a container path is resolved under rootfs with securejoin so
// that a symlink in the image ("/etc -> /host/etc") cannot redirect a mount onto the host.
//
// Once the root is mounted the init works from inside it: paths are resolved and used relative
// to the working directory, the rootfs, so each of the plan's ~80 path lookups walks a
// component or two instead of the store's whole path (0.5 ms or more of every start).
type planApplier struct {
	rootfs  string
	base    string // what container paths are resolved under: rootfs, or "." once inside it
	pivoted bool
	// nullSrc is what the masks bind over files: "" for /dev/null, or the /proc/self/fd path
	// of the descriptor OpKeepNull opened (O_CLOEXEC: the entrypoint never holds it).
	nullSrc string
}

func newPlanApplier(rootfs string) *planApplier {
	return &planApplier{rootfs: rootfs, base: rootfs}
}

// apply runs steps, the next ones of the plan.
func (a *planApplier) apply(steps []Step) error {
	rootfs, base, pivoted := a.rootfs, a.base, a.pivoted
	defer func() { a.base, a.pivoted = base, pivoted }()
	for _, s := range steps {
		target := s.Target
		if !pivoted && s.Op != OpPivot {
			var err error
			if s.Op == OpRoot && s.Target == "/" {
				target = rootfs
			} else if target, err = securejoin.SecureJoin(base, s.Target); err != nil {
				return fmt.Errorf("mounting rootfs: resolving %s: %w", s.Target, err)
			}
			// The kernel filesystems go where the masks and read-only paths expect them; an
			// image that makes /proc a symlink would move procfs away from its masks (the
			// runc CVE-2019-16884 family), so it is refused.
			if s.Op == OpMount && kernelMountpoints[s.Target] && target != filepath.Join(base, s.Target) {
				return fmt.Errorf("mounting rootfs: %s in the image is a symlink", s.Target)
			}
			if s.Op == OpBind || s.Op == OpMount || s.Op == OpNull {
				if err := checkResolvedTarget(s, base, target); err != nil {
					return fmt.Errorf("mounting rootfs: %w", err)
				}
			}
		} else if s.Op == OpMkdir {
			// As docker, the working directory is made where the image's symlinks lead, a
			// dangling one too (MkdirAll stops at it), and never through a magic link of
			// /proc, which securejoin reads as the plain name it shows.
			var err error
			if target, err = securejoin.SecureJoin("/", s.Target); err != nil {
				return fmt.Errorf("mounting rootfs: resolving %s: %w", s.Target, err)
			}
		}
		if s.Op == OpKeepNull {
			if err := a.keepNull(target); err != nil {
				return fmt.Errorf("mounting rootfs: keeping %s: %w", s.Target, err)
			}
			continue
		}
		if err := applyStep(s, target, rootfs, a.nullSrc); err != nil {
			return fmt.Errorf("mounting rootfs: %s %s: %w", s.Op, s.Target, err)
		}
		switch {
		case s.Op == OpPivot:
			pivoted = true
		case !pivoted && (target == rootfs || target == "."):
			// A mount on the root itself: the working directory is still the dir beneath it.
			if err := unix.Chdir(rootfs); err != nil {
				return fmt.Errorf("mounting rootfs: entering it: %w", err)
			}
			base = "."
		}
	}
	return nil
}

// keepNull opens target, which must be a null device (char 1:3), as a.null. O_PATH: the bind
// only needs to name it, and the descriptor can do nothing else.
func (a *planApplier) keepNull(target string) error {
	fd, err := unix.Open(target, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return errors.Join(err, unix.Close(fd))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		return errors.Join(errors.New("not a null device"), unix.Close(fd))
	}
	a.nullSrc = fmt.Sprintf("/proc/self/fd/%d", fd)
	return nil
}

// kernelMountpoints are the targets that must be plain directories of the image.
var kernelMountpoints = map[string]bool{"/proc": true, "/sys": true, "/dev": true, "/dev/pts": true}

// checkResolvedTarget holds a mount to validateMountTargets' rules where the image's symlinks
// lead it, as runc checks the resolved path too: not onto the root, which would replace the
// whole container, nor on or inside /proc, which would cover the masks, or files the init
// reads there (cap_last_cap).
func checkResolvedTarget(s Step, base, target string) error {
	rel, err := filepath.Rel(base, target)
	if err != nil {
		return err
	}
	switch resolved := path.Clean("/" + rel); {
	case resolved == s.Target:
		return nil // as named: validated already, and procfs's own mount
	case resolved == "/":
		return fmt.Errorf("%s in the image leads to the root", s.Target)
	case (resolved == "/proc" || strings.HasPrefix(resolved, "/proc/")) && !(s.Op == OpBind && procMountAllowed[resolved]):
		return fmt.Errorf("%s in the image leads into /proc", s.Target)
	}
	return nil
}

// applyStep runs one step at its resolved target; masks bind nullSrc ("" for /dev/null) over
// files.
func applyStep(s Step, target, rootfs, nullSrc string) error {
	switch s.Op {
	case OpRoot:
		if target != rootfs {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		}
		return s.Mount.Mount(target)
	case OpMount:
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		return unix.Mount(s.Source, target, s.FSType, s.Flags, s.Data)
	case OpBind:
		return bindStep(s, target)
	case OpDevice:
		return deviceStep(s, target)
	case OpSymlink:
		if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return os.Symlink(s.Source, target)
	case OpMkdir:
		return os.MkdirAll(target, 0o755)
	case OpPivot:
		return pivotRoot(rootfs)
	case OpNull:
		if nullSrc == "" {
			return errors.New("no null device kept")
		}
		if err := touch(target); err != nil {
			return err
		}
		return unix.Mount(nullSrc, target, "", unix.MS_BIND, "")
	case OpMask:
		st, err := os.Stat(target)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.IsDir() {
			return unix.Mount("tmpfs", target, "tmpfs", unix.MS_RDONLY, "size=0")
		}
		if nullSrc == "" {
			nullSrc = "/dev/null"
		}
		return unix.Mount(nullSrc, target, "", unix.MS_BIND, "")
	case OpReadOnly:
		if _, err := os.Stat(target); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if target == "/" {
			// Only the root itself: /dev/shm, /proc and the user's rw mounts stay writable
			// under --read-only, as with docker.
			return remountWith(target, unix.MS_RDONLY)
		}
		if err := unix.Mount(target, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		return remountReadOnly(target)
	}
	return fmt.Errorf("unknown step %q", s.Op)
}

// bindStep binds s.Source (a host path) at target, creating a dir or an empty file to mount
// on, then applies flags and propagation, which a new bind ignores.
func bindStep(s Step, target string) error {
	st, err := os.Stat(s.Source)
	if errors.Is(err, os.ErrNotExist) && s.Create {
		if err = os.MkdirAll(s.Source, 0o755); err == nil {
			st, err = os.Stat(s.Source)
		}
	}
	if err != nil {
		return fmt.Errorf("bind source: %w", err)
	}
	if st.IsDir() {
		err = os.MkdirAll(target, 0o755)
	} else {
		err = touch(target)
	}
	if err != nil {
		return err
	}
	if err := unix.Mount(s.Source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	if s.Flags&unix.MS_RDONLY != 0 {
		if err := remountReadOnly(target); err != nil {
			return err
		}
	}
	if other := s.Flags &^ unix.MS_RDONLY; other != 0 {
		if err := remountWith(target, other); err != nil {
			return err
		}
	}
	if s.Propagation != 0 {
		return unix.Mount("", target, "", s.Propagation, "")
	}
	return nil
}

// deviceStep makes target a device node like the host's s.Source. A node costs one mknod
// where a bind costs a file and a mount (the mount namespace's teardown at exit pays for each
// mount again); a bind is the fallback where mknod is not allowed.
func deviceStep(s Step, target string) error {
	var st unix.Stat_t
	if err := unix.Stat(s.Source, &st); err != nil {
		return fmt.Errorf("device: %w", err)
	}
	kind := st.Mode & unix.S_IFMT
	if kind != unix.S_IFCHR && kind != unix.S_IFBLK {
		return fmt.Errorf("device: %s is not a device node", s.Source)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil { // /dev/net/tun
		return err
	}
	err := unix.Mknod(target, kind|0o600, int(st.Rdev))
	switch {
	case errors.Is(err, unix.EPERM):
		return bindStep(Step{Op: OpBind, Source: s.Source, Target: s.Target}, target)
	case err != nil:
		return err
	}
	// The mode and owner are the host's: mknod's mode passes through the umask.
	if err := unix.Chmod(target, st.Mode&0o7777); err != nil {
		return err
	}
	return unix.Lchown(target, int(st.Uid), int(st.Gid))
}

// touch creates an empty file (and its parents) to bind a file onto; an existing one is kept.
func touch(p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	// O_EXCL: an existing file is kept without being opened. The image may have made it a
	// FIFO, whose open would block the init forever, or a device node, which an open may act on.
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDONLY|unix.O_CLOEXEC, 0o644)
	if errors.Is(err, os.ErrExist) {
		// O_EXCL does not follow a symlink, but the bind would.
		st, err := os.Lstat(p)
		switch {
		case err != nil:
			return err
		case st.Mode()&os.ModeSymlink != 0:
			return &os.PathError{Op: "open", Path: p, Err: unix.ELOOP}
		case st.IsDir(): // the kernel would say ENOTDIR, of the file bound
			return &os.PathError{Op: "open", Path: p, Err: unix.EISDIR}
		}
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// remountReadOnly makes the mount at target read-only, recursively when the kernel has
// mount_setattr (a read-only -v of a tree with submounts stays read-only all the way down,
// which a plain remount does not do), else with a bind remount that keeps the other flags.
func remountReadOnly(target string) error {
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	err := unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW, &attr)
	if err == nil {
		return nil
	}
	return remountWith(target, unix.MS_RDONLY)
}

// remountWith adds flags to the mount at target, keeping those it already has: a bind remount
// replaces all per-mount flags, so nosuid/nodev/noexec of /proc would otherwise be lost.
func remountWith(target string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return err
	}
	have := uintptr(0)
	for _, f := range []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st.Flags&f.st != 0 {
			have |= f.ms
		}
	}
	return unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|have|flags, "")
}

// pivotRoot makes rootfs the root without a temporary directory for the old root: pivot_root
// with "." for both, then detach the old root that now sits on top of the new one. The trick
// is runc's (libcontainer/rootfs_linux.go pivotRoot, from lxc). The old root becomes rslave
// first so the detach cannot propagate to the host.
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return err
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("making old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching old root: %w", err)
	}
	return unix.Chdir("/")
}
