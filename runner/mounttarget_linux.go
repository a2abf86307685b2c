package runner

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// Mount targets are opened, then mounted on through their descriptor.
//
// A container path resolved to a path string under the rootfs and then handed to mount(2)
// is resolved twice, and the second time is the kernel's, at mount time: a process that can
// write to a dir on the way (another container sharing a volume with this one) swaps a
// component for a symlink to "/" in between, and the mount lands on the host (runc
// CVE-2021-30465). So each step opens its target once, O_PATH, with openat2's
// RESOLVE_IN_ROOT (the image's symlinks, ".." too, stay inside the root; magic links of /proc
// are refused), checks what it opened, and mounts on /proc/self/fd/N: the kernel follows
// that magic link to exactly the object opened, whatever the path now leads to. What is
// missing is made by name in a dir already open and opened without following a symlink
// (docker's mountpoints: a dir, or an empty file to bind a file on). The fix is runc's
// (libcontainer/utils WithProcfd, then pathrs MkdirAllInRoot); it costs one openat2 per step,
// which walks the path in the kernel where securejoin lstat'ed each component.

// procSelfFD is where the kernel shows this process's descriptors as magic links.
const procSelfFD = "/proc/self/fd/"

// fdPath is the path mount(2) and the like take for the object fd is open on.
func fdPath(fd int) string { return procSelfFD + strconv.Itoa(fd) }

// resolveMode says how a container path may use the image's symlinks.
type resolveMode int

const (
	// followLinks follows them inside the root.
	followLinks resolveMode = iota
	// resolveLinks follows them inside the root and says where they led, for
	// checkResolvedTarget.
	resolveLinks
	// noLinks refuses any symlink on the way (ELOOP): the kernel filesystems' mountpoints,
	// the masks and the read-only paths are the kernel's own dirs.
	noLinks
)

// rootFD returns the descriptor the plan's container paths are resolved in: the rootfs
// (base) before the pivot, "/" after it. It is opened again after a mount on the root
// (dropRoot), which a descriptor opened before does not see.
func (a *planApplier) rootFD() (int, error) {
	if a.rootOpen {
		return a.root, nil
	}
	dir := a.base
	if a.pivoted {
		dir = "/"
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	if err := checkProcSelfFD(fd); err != nil {
		return -1, errors.Join(err, unix.Close(fd))
	}
	a.root, a.rootOpen, a.rootReal = fd, true, ""
	return fd, nil
}

// dropRoot closes the root's descriptor: the root changed (mounted on, pivoted).
func (a *planApplier) dropRoot() {
	if a.rootOpen {
		unix.Close(a.root)
		a.rootOpen = false
	}
}

// checkProcSelfFD makes sure that /proc/self/fd/N names this process's descriptor N, as
// fdPath expects, before the steps mount on such paths: before the pivot /proc is the host's
// procfs, after it the container's (mounted by the plan on a dir that was no symlink). A
// /proc that is no procfs, or whose self is not this process, fails the step where a mount
// could otherwise land elsewhere. Once per root: nothing the plan mounts reaches /proc/self.
func checkProcSelfFD(fd int) error {
	var fs unix.Statfs_t
	if err := unix.Statfs(procSelfFD, &fs); err != nil {
		return fmt.Errorf("checking %s: %w", procSelfFD, err)
	}
	if fs.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s is not on procfs", procSelfFD)
	}
	var via, st unix.Stat_t
	if err := unix.Stat(fdPath(fd), &via); err != nil {
		return fmt.Errorf("checking %s: %w", procSelfFD, err)
	}
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if via.Dev != st.Dev || via.Ino != st.Ino {
		return fmt.Errorf("%s does not show this process's descriptors", procSelfFD)
	}
	return nil
}

// lookup opens target, a container path, O_PATH inside the root. With resolveLinks it also
// returns the container path the image's symlinks led to (target itself when there were
// none: the common case costs one openat2); otherwise resolved is target. Its errors do not
// name target: the step's error names it already ("mount /etc/passwd/x: not a directory",
// not "mount /etc/passwd/x: open /etc/passwd/x: not a directory").
func (a *planApplier) lookup(target string, mode resolveMode) (fd int, resolved string, err error) {
	root, err := a.rootFD()
	if err != nil {
		return -1, "", err
	}
	target = a.devPath(target)
	if mode != followLinks {
		fd, err := openInRoot(root, target, unix.RESOLVE_NO_SYMLINKS)
		switch {
		case err == nil:
			return fd, target, nil
		case errors.Is(err, unix.ENOSYS): // no openat2: securejoin's lookup, then readlink
		case !errors.Is(err, unix.ELOOP) || mode == noLinks:
			return -1, "", err
		}
	}
	if fd, err = openInRoot(root, target, 0); errors.Is(err, unix.ENOSYS) {
		fd, err = openInRootCompat(root, target)
	}
	if err != nil {
		return -1, "", err
	}
	if mode == followLinks {
		return fd, target, nil
	}
	if resolved, err = a.resolvedPath(fd); err != nil {
		return -1, "", errors.Join(fmt.Errorf("telling where %s leads: %w", target, err), unix.Close(fd))
	}
	if mode == noLinks && resolved != target {
		return -1, "", errors.Join(unix.ELOOP, unix.Close(fd))
	}
	return fd, resolved, nil
}

// resolvedPath is the container path of what fd is open on, read from its magic link
// (the kernel's d_path) relative to the root's own.
func (a *planApplier) resolvedPath(fd int) (string, error) {
	if a.rootReal == "" {
		p, err := os.Readlink(fdPath(a.root))
		if err != nil {
			return "", err
		}
		a.rootReal = p
	}
	p, err := os.Readlink(fdPath(fd))
	switch {
	case err != nil:
		return "", err
	case p == a.rootReal:
		return "/", nil
	case a.rootReal == "/" && strings.HasPrefix(p, "/"):
		return p, nil
	case strings.HasPrefix(p, a.rootReal+"/"):
		return p[len(a.rootReal):], nil
	}
	return "", fmt.Errorf("%s is outside the root", p)
}

// openInRoot is openat2(root, target, O_PATH) confined to root, never through a magic link,
// with resolve's further restrictions. The kernel answers EAGAIN when a rename raced its
// walk of ".."; a bounded number of retries keeps a renaming loop from holding the init.
func openInRoot(root int, target string, resolve uint64) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | resolve,
	}
	for range 64 {
		fd, err := unix.Openat2(root, target, &how)
		if err != unix.EAGAIN && err != unix.EINTR {
			return fd, err
		}
	}
	return -1, unix.EAGAIN
}

// openInRootCompat is openInRoot for kernels without openat2 (before 5.6): pathrs-lite's
// lookup, one component at a time, each checked.
func openInRootCompat(root int, target string) (int, error) {
	dup, err := unix.FcntlInt(uintptr(root), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	rootFile := os.NewFile(uintptr(dup), "root")
	defer rootFile.Close()
	f, err := pathrs.OpenatInRoot(rootFile, target)
	if err != nil {
		return -1, err
	}
	defer f.Close()
	return unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
}

// openBeneath opens name, a single component, in dirfd without following a symlink:
// ELOOP for one.
func openBeneath(dirfd int, name string) (int, error) {
	fd, err := unix.Openat2(dirfd, name, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if !errors.Is(err, unix.ENOSYS) {
		return fd, err
	}
	if fd, err = unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT == unix.S_IFLNK {
		unix.Close(fd)
		if err == nil {
			err = unix.ELOOP
		}
		return -1, err
	}
	return fd, nil
}

// createAt makes name in dirfd, a dir (0755) or an empty file (0644), keeping what is there
// already, and opens it (O_PATH) without following a symlink. O_EXCL: an existing file is
// never opened (the image may have made it a FIFO, whose open blocks, or a device node).
// The modes are exact: the init runs with umask 0.
func createAt(dirfd int, name string, dir bool) (int, error) {
	var err error
	if dir {
		err = unix.Mkdirat(dirfd, name, 0o755)
	} else {
		var fd int
		if fd, err = unix.Openat(dirfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o644); err == nil {
			unix.Close(fd)
		}
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, err
	}
	return openBeneath(dirfd, name)
}

// makeTarget makes the missing target as docker makes a mountpoint: a dir, or an empty file
// when dir is false, with the dirs above it, where the image's symlinks lead inside the root,
// a dangling one too. Each is made by name in a dir already open and opened without
// following a symlink: one swapped in meanwhile fails the step (ELOOP), it never leads out.
// An error names the path made only when it is not target, which the step's error names.
func (a *planApplier) makeTarget(target string, dir bool, mode resolveMode) (int, string, error) {
	fd, resolved, err := a.makeAt(target, dir, mode)
	if !errors.Is(err, unix.ELOOP) || mode == noLinks {
		return fd, resolved, withoutTarget(err, target)
	}
	// A symlink leading nowhere yet on the way: the path is made where it leads, as
	// securejoin reads the links by name (never a magic one) inside the root.
	base := a.base
	if a.pivoted {
		base = "/"
	}
	joined, jerr := securejoin.SecureJoin(base, target)
	if jerr != nil {
		return -1, "", jerr
	}
	rel, jerr := filepath.Rel(base, joined)
	if jerr != nil {
		return -1, "", jerr
	}
	if there := path.Clean("/" + rel); there != target {
		return a.makeAt(there, dir, mode)
	}
	return -1, "", withoutTarget(err, target)
}

// withoutTarget is err without its path when that is target: "mount /data/sub: mkdir:
// read-only file system", not "mount /data/sub: mkdir /data/sub: read-only file system".
func withoutTarget(err error, target string) error {
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Path == target && err == error(pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// makeAt is makeTarget's walk: the parent is opened inside the root (made first when
// missing), then target is made in it.
func (a *planApplier) makeAt(target string, dir bool, mode resolveMode) (int, string, error) {
	parent, name := path.Dir(target), path.Base(target)
	if parent == target {
		return -1, "", &os.PathError{Op: "open", Path: target, Err: unix.ENOENT}
	}
	pfd, presolved, err := a.lookup(parent, mode)
	if errors.Is(err, unix.ENOENT) {
		pfd, presolved, err = a.makeAt(parent, true, mode)
	} else if err != nil {
		err = &os.PathError{Op: "open", Path: parent, Err: err}
	}
	if err != nil {
		return -1, "", err
	}
	defer unix.Close(pfd)
	resolved := path.Join(presolved, name)
	fd, err := createAt(pfd, name, dir)
	if err != nil {
		op := "mkdir"
		if !dir {
			op = "create"
		}
		return -1, "", &os.PathError{Op: op, Path: resolved, Err: err}
	}
	return fd, resolved, nil
}

// reopenMount opens target again after a mount on it, to reach the new mount: a descriptor
// opened before names what lies beneath it, where a remount fails or changes the wrong mount
// (runc reopens too, libcontainer/rootfs_linux.go mountPropagate). want is what the new
// mount's root must be (the bind's source): a target swapped meanwhile is refused, not
// remounted. The remounts then need the path to be a mount's root, as the kernel checks.
func (a *planApplier) reopenMount(target string, mode resolveMode, want *unix.Stat_t) (int, error) {
	fd, _, err := a.lookup(target, mode)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return -1, errors.Join(err, unix.Close(fd))
	}
	if st.Dev != want.Dev || st.Ino != want.Ino {
		return -1, errors.Join(fmt.Errorf("%s changed while it was mounted on", target), unix.Close(fd))
	}
	return fd, nil
}
