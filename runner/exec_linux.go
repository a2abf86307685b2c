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
// its parent). Each step opens its target inside the root with openat2 and mounts on the
// descriptor (mounttarget_linux.go): a symlink in the image ("/etc -> /host/etc") or one
// swapped in by another container sharing a volume cannot redirect a mount onto the host.
//
// Once the root is mounted the init works from inside it: paths are resolved relative to the
// working directory, the rootfs, so each lookup walks a component or two instead of the
// store's whole path (0.5 ms or more of every start).
type planApplier struct {
	rootfs  string
	base    string // the root dir before the pivot: rootfs, or "." once inside it
	pivoted bool
	// nullSrc is what the masks bind over files: "" for /dev/null, or the /proc/self/fd path
	// of the descriptor OpKeepNull opened (O_CLOEXEC: the entrypoint never holds it).
	nullSrc string
	// root is the descriptor container paths are resolved in (rootFD), while rootOpen;
	// rootReal is its path as /proc shows it, once asked (resolvedPath).
	root     int
	rootOpen bool
	rootReal string
	// dev is where the image's /dev leads when it is a symlink ("/newdev"), "" when it is
	// none; devChecked says whether it was looked at yet (resolveDev).
	dev        string
	devChecked bool
	// cwdLeft says an OpMkdir of mkdirCgroupfsLater left the working directory, which the
	// image's symlinks lead into the cgroup tree, to the one of mkdirIfLeft.
	cwdLeft bool
}

func newPlanApplier(rootfs string) *planApplier {
	return &planApplier{rootfs: rootfs, base: rootfs}
}

// targetError is a step's target refused, worded on its own ("/data in the image leads
// into /proc"), without the step's op before it.
type targetError struct{ error }

func (e targetError) Unwrap() error { return e.error }

// apply runs steps, the next ones of the plan.
func (a *planApplier) apply(steps []Step) error {
	for _, s := range steps {
		if !a.pivoted && !a.devChecked && s.Op != OpRoot && underDev(s.Target) {
			if err := a.resolveDev(); err != nil {
				return fmt.Errorf("mounting rootfs: %w", err)
			}
		}
		err := a.applyStep(s)
		var refused targetError
		switch {
		case err == nil:
		case errors.As(err, &refused):
			return fmt.Errorf("mounting rootfs: %w", refused.error)
		case s.Op == OpKeepNull:
			return fmt.Errorf("mounting rootfs: keeping %s: %w", s.Target, err)
		case s.Op == OpSysctl:
			return fmt.Errorf("setting sysctl %s=%s: %w", s.Source, s.Data, err)
		default:
			return fmt.Errorf("mounting rootfs: %s %s: %w", s.Op, s.Target, err)
		}
	}
	return nil
}

// close closes the root's descriptor; the init leaves it to exec (O_CLOEXEC).
func (a *planApplier) close() { a.dropRoot() }

// applyStep runs one step.
func (a *planApplier) applyStep(s Step) error {
	switch s.Op {
	case OpRoot:
		return a.mountRoot(s)
	case OpMount:
		fd, _, err := a.target(s, true)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Mount(s.Source, fdPath(fd), s.FSType, s.Flags, s.Data)
	case OpBind:
		return a.bind(s)
	case OpDevice:
		if err := a.device(s); err != nil {
			return err
		}
		if a.dev != "" && s.Target == "/dev/null" && a.nullSrc == "" {
			// Under a /dev that is a symlink, a mount of the user's or the image's may cover
			// the dir it leads to by a name the plan cannot tell (a VOLUME /data over
			// /data/dev): the masks and the command's stdin use this null device, whatever
			// /dev/null is later.
			return a.keepNull(s.Target)
		}
		return nil
	case OpUserDevice:
		return a.userDevice(s)
	case OpSysctl:
		return a.sysctl(s)
	case OpSymlink:
		return a.symlink(s)
	case OpMkdir:
		if len(s.Target) >= unix.PathMax {
			// Made, it could not be entered: the init's chdir takes a path.
			return targetError{fmt.Errorf("mkdir %s: %w", s.Target, unix.ENAMETOOLONG)}
		}
		if s.Data == mkdirIfLeft && !a.cwdLeft {
			return nil // made already
		}
		err := a.mkdirPlain(s.Target)
		if errors.Is(err, unix.ELOOP) {
			err = a.mkdirThroughLinks(s.Target, s.Data == mkdirCgroupfsLater)
		}
		if err != nil {
			// Named once, as the container sees it (MkdirAll's error names the resolved path).
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EEXIST) {
				// Docker's words: a file (or a file above it) is in the way.
				return targetError{fmt.Errorf("cannot mkdir: %s is not a directory", s.Target)}
			}
			return targetError{fmt.Errorf("mkdir %s: %w", s.Target, err)}
		}
		return nil
	case OpPivot:
		a.dropRoot()
		if err := pivotRoot(a.rootfs); err != nil {
			return err
		}
		a.pivoted = true
		return nil
	case OpKeepNull:
		if a.nullSrc != "" {
			return nil // kept already, under a /dev that is a symlink
		}
		return a.keepNull(s.Target)
	case OpNull:
		if a.nullSrc == "" {
			return errors.New("no null device kept")
		}
		fd, _, err := a.target(s, false)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		err = unix.Mount(a.nullSrc, fdPath(fd), "", unix.MS_BIND, "")
		// The kernel says ENOTDIR for a file bound on a dir too.
		var st unix.Stat_t
		if errors.Is(err, unix.ENOTDIR) && unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = unix.EISDIR
		}
		return err
	case OpMask:
		return a.mask(s)
	case OpReadOnly:
		return a.readOnly(s)
	}
	return fmt.Errorf("unknown step %q", s.Op)
}

// mkdirPlain makes the working directory target, a clean absolute container path, one
// component at a time: each is opened in the one before without following a symlink, and
// made there when missing. A walk by descriptors costs one or two syscalls a component,
// where making the dirs by path (MkdirAll) walks the path again for each, and took seconds
// for an image's WORKDIR of 2000 components. ELOOP: a symlink is on the way, for
// mkdirThroughLinks.
func (a *planApplier) mkdirPlain(target string) error {
	root, err := a.rootFD()
	if err != nil {
		return err
	}
	dir, err := unix.FcntlInt(uintptr(root), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer func() { unix.Close(dir) }()
	for _, name := range strings.Split(strings.TrimPrefix(target, "/"), "/") {
		if name == "" {
			continue // the root itself
		}
		fd, err := openBeneath(dir, name)
		if errors.Is(err, unix.ENOENT) {
			fd, err = createAt(dir, name, true)
		}
		if err != nil {
			return err
		}
		unix.Close(dir)
		dir = fd
	}
	var st unix.Stat_t
	if err := unix.Fstat(dir, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	return nil
}

// mkdirThroughLinks makes the working directory target where the image's symlinks lead, as
// docker does, a dangling one too (MkdirAll stops at it), and never through a magic link of
// /proc, which securejoin reads as the plain name it shows. With cgroupfsLater, one they lead
// into the cgroup tree, whose filesystems are not mounted yet, is left to the step after them
// (cwdLeft): made now, it would be looked for in sysfs beneath them, as runc, which makes it
// once every mount is made, does not.
func (a *planApplier) mkdirThroughLinks(target string, cgroupfsLater bool) error {
	base := a.base
	if a.pivoted {
		base = "/"
	}
	joined, err := securejoin.SecureJoin(base, target)
	if err != nil {
		return fmt.Errorf("resolving: %w", err)
	}
	if cgroupfsLater {
		if rel, err := filepath.Rel(base, joined); err == nil && coversCgroupfs(rel) {
			a.cwdLeft = true
			return nil
		}
	}
	return os.MkdirAll(joined, 0o755)
}

// target opens s.Target inside the root to mount on, making it when missing (a dir, or an
// empty file when dir is false), and returns where it is. Before the pivot the image's
// symlinks may not lead it where validateMountTargets refuses a mount by name
// (checkResolvedTarget), and the kernel filesystems go where the masks and read-only paths
// expect them: an image that makes /proc a symlink would move procfs away from its masks (the
// runc CVE-2019-16884 family), so it is refused. So is a symlink at the /dev/null of a /dev
// volume (OpNull): the null device is strata's own, for /dev/null, never for the file the
// image's link names (its /etc/passwd).
func (a *planApplier) target(s Step, dir bool) (int, string, error) {
	mode := followLinks
	kernel := false
	if !a.pivoted {
		mode = resolveLinks
		if s.Op == OpMount && kernelMountpoints[s.Target] || s.Op == OpNull {
			mode, kernel = noLinks, true
		}
	}
	fd, resolved, err := a.lookup(s.Target, mode)
	if errors.Is(err, unix.ENOENT) {
		fd, resolved, err = a.makeTarget(s.Target, dir, mode)
	}
	if kernel && errors.Is(err, unix.ELOOP) {
		return -1, "", targetError{a.symlinkRefusal(s.Target)}
	}
	if err != nil {
		return -1, "", err
	}
	if mode == resolveLinks && (s.Op == OpBind || s.Op == OpMount || s.Op == OpNull) {
		if err := checkResolvedTarget(s, resolved, a.dev); err != nil {
			return -1, "", errors.Join(targetError{err}, unix.Close(fd))
		}
	}
	return fd, resolved, nil
}

// symlinkRefusal is the error for a kernel filesystem's mountpoint, or the /dev/null of a
// /dev volume, that the image made a symlink: it says where the link leads, when it leads
// somewhere in the root, so the image's author sees what to change. (runc refuses /proc and
// /sys so too; a /dev that is a symlink is followed, as runc follows it: resolveDev.)
func (a *planApplier) symlinkRefusal(target string) error {
	fd, resolved, err := a.lookup(target, resolveLinks)
	if err != nil {
		return fmt.Errorf("%s in the image is a symlink", target)
	}
	unix.Close(fd)
	return fmt.Errorf("%s in the image is a symlink to %s, which strata does not mount through", target, path.Clean("/"+resolved))
}

// underDev says whether the container path p is /dev or inside it, by name.
func underDev(p string) bool { return p == "/dev" || strings.HasPrefix(p, "/dev/") }

// devPath is the container path p with the image's /dev, when that is a symlink, replaced by
// the dir it leads to: before the pivot the plan's /dev steps (its tmpfs, devpts, the nodes,
// the user's mounts under /dev) are made there, each opened as a.dev's path with the same
// rules as a plain /dev (no symlink on the way to /dev/pts).
func (a *planApplier) devPath(p string) string {
	if a.dev == "" || a.pivoted || !underDev(p) {
		return p
	}
	return a.dev + p[len("/dev"):]
}

// resolveDev looks once, before the first step under /dev, at what the image has there. A
// symlink is followed inside the root, as runc follows it (its mounts' destinations go
// through securejoin; an image such as one with "/dev -> /newdev" runs): the /dev steps are
// made in the dir it leads to, made when it dangles, and the container's /dev stays the
// image's link to them. It may not lead to the root (the tmpfs would hide the whole image)
// nor into /proc or /sys (it would cover the kernel's files the masks guard, or be covered
// by sysfs); a loop, or a link to a file, is refused as before.
func (a *planApplier) resolveDev() error {
	a.devChecked = true
	fd, _, err := a.lookup("/dev", noLinks)
	if err == nil {
		unix.Close(fd)
	}
	if !errors.Is(err, unix.ELOOP) {
		return nil // a dir (or what the mount will refuse), or missing: /dev itself
	}
	fd, resolved, err := a.lookup("/dev", resolveLinks)
	if errors.Is(err, unix.ENOENT) {
		fd, resolved, err = a.makeTarget("/dev", true, resolveLinks)
	}
	if err != nil {
		return targetError{fmt.Errorf("/dev in the image is a symlink: %w", withoutTarget(err, "/dev"))}
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	unix.Close(fd)
	if err != nil {
		return err
	}
	resolved = path.Clean("/" + resolved)
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return targetError{fmt.Errorf("/dev in the image is a symlink to %s, which is not a directory", resolved)}
	case resolved == "/":
		return targetError{errors.New("/dev in the image leads to the root")}
	case underKernelFS(resolved):
		return targetError{fmt.Errorf("/dev in the image leads to %s, inside /proc or /sys", resolved)}
	}
	a.dev = resolved
	return nil
}

// mountRoot mounts one of Spec.Root: "/" on the rootfs dir itself (strata's own path, no
// container's), which the init then enters, others on their targets under it.
func (a *planApplier) mountRoot(s Step) error {
	if s.Target != "/" {
		fd, _, err := a.target(s, true)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return s.Mount.Mount(fdPath(fd))
	}
	if err := s.Mount.Mount(a.rootfs); err != nil {
		return err
	}
	// The root changed: a descriptor opened before sees the dir beneath it, and so does the
	// working directory.
	a.dropRoot()
	if err := unix.Chdir(a.rootfs); err != nil {
		return fmt.Errorf("entering it: %w", err)
	}
	a.base = "."
	return nil
}

// keepNull opens target, which must be a null device (char 1:3), as a.null. O_PATH: the bind
// only needs to name it, and the descriptor can do nothing else.
func (a *planApplier) keepNull(target string) error {
	fd, _, err := a.lookup(target, followLinks)
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
	a.nullSrc = fdPath(fd)
	return nil
}

// kernelMountpoints are the targets that must be plain directories of the image (an image's
// /dev that is a symlink is followed first, resolveDev: the dir it leads to must be one).
var kernelMountpoints = map[string]bool{"/proc": true, "/sys": true, "/dev": true, "/dev/pts": true}

// checkResolvedTarget holds a mount to validateMountTargets' rules where the image's symlinks
// lead it (resolved, a container path), as runc checks the resolved path too: not onto the
// root, which would replace the whole container, nor on or inside /proc, which would cover
// the masks, or files the init reads there (cap_last_cap). Nor onto /dev or /dev/null: the
// plan keeps the null device for the masks and the command's stdin only from a mount named
// there (planWith's hidesNull), so one led there would leave the masks without it, or bind
// what the mount holds (an etc file, writable) over /proc/kcore and as the command's
// /dev/null.
func checkResolvedTarget(s Step, resolved, dev string) error {
	named, devDir := s.Target, "/dev"
	if dev != "" { // the image's /dev is a symlink to dev (resolveDev)
		devDir = dev
		if underDev(named) {
			named = dev + named[len("/dev"):]
		}
	}
	switch resolved = path.Clean("/" + resolved); {
	case resolved == named:
		return nil // as named: validated already, and procfs's own mount
	case resolved == "/":
		return fmt.Errorf("%s in the image leads to the root", s.Target)
	case (resolved == "/proc" || strings.HasPrefix(resolved, "/proc/")) && !(s.Op == OpBind && procMountAllowed[resolved]):
		return fmt.Errorf("%s in the image leads into /proc", s.Target)
	case resolved == devDir || resolved == devDir+"/null":
		return fmt.Errorf("%s in the image leads to %s", s.Target, "/dev"+resolved[len(devDir):])
	}
	return nil
}

// kernelPath opens a mask's or a read-only path's target and stats it; fd is -1, with no
// error, when the target is missing or reached through a symlink (see mask).
func (a *planApplier) kernelPath(target string) (fd int, st unix.Stat_t, err error) {
	fd, _, err = a.lookup(target, noLinks)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) {
		return -1, st, nil
	}
	if err != nil {
		return -1, st, err
	}
	if err := unix.Fstat(fd, &st); err != nil {
		return -1, st, errors.Join(err, unix.Close(fd))
	}
	return fd, st, nil
}

// mask hides s.Target: an empty read-only tmpfs over a dir, the null device over a file
// (nullSrc, or /dev/null). A missing target is skipped, and so is one reached through a
// symlink: the kernel's file is not there to hide, and the mask must not land on what the
// link leads to.
func (a *planApplier) mask(s Step) error {
	fd, st, err := a.kernelPath(s.Target)
	if fd < 0 || err != nil {
		return err
	}
	defer unix.Close(fd)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.Mount("tmpfs", fdPath(fd), "tmpfs", unix.MS_RDONLY, "size=0")
	}
	src := a.nullSrc
	if src == "" {
		src = "/dev/null"
	}
	return unix.Mount(src, fdPath(fd), "", unix.MS_BIND, "")
}

// readOnly makes s.Target a read-only bind of itself; "/" is the root's own mount, remounted
// read-only. A missing target, or one reached through a symlink, is skipped as by mask.
func (a *planApplier) readOnly(s Step) error {
	if s.Data == readOnlyMount {
		return a.readOnlyTmpfs(s.Target)
	}
	if s.Target == "/" {
		// Only the root itself: /dev/shm, /proc and the user's rw mounts stay writable
		// under --read-only, as with docker.
		root, err := a.rootFD()
		if err != nil {
			return err
		}
		return remountWith(root, unix.MS_RDONLY)
	}
	fd, st, err := a.kernelPath(s.Target)
	if fd < 0 || err != nil {
		return err
	}
	defer unix.Close(fd)
	if isMountRoot(fd) {
		// A mount of its own (the cgroup tmpfs) is made read-only where it is. Bound onto
		// itself first, as a path inside a mount (/proc/sys) must be, its whole tree was
		// copied: on a v1 host the tmpfs and its ten cgroup mounts, eleven more mounts for
		// every start to make and for its exit to tear down.
		return remountReadOnly(fd)
	}
	if err := unix.Mount(fdPath(fd), fdPath(fd), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	bound, err := a.reopenMount(s.Target, noLinks, &st)
	if err != nil {
		return err
	}
	defer unix.Close(bound)
	return remountReadOnly(bound)
}

// readOnlyTmpfs makes the user's tmpfs at target, mounted writable by the plan, read-only:
// that mount alone, keeping its other flags. target resolves as it did for the mount (the
// image's symlinks inside the root; nothing but the plan's own mounts came since); what it
// leads to must be a tmpfs's root, or the start fails rather than leave it writable.
func (a *planApplier) readOnlyTmpfs(target string) error {
	fd, _, err := a.lookup(target, followLinks)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return err
	}
	var stx unix.Statx_t
	if fs.Type != unix.TMPFS_MAGIC || unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, 0, &stx) == nil &&
		stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return errors.New("not the tmpfs mounted there")
	}
	return remountWith(fd, unix.MS_RDONLY)
}

// bind binds s.Source (a host path) at s.Target, creating a dir or an empty file to mount
// on, then applies flags and propagation, which a new bind ignores.
func (a *planApplier) bind(s Step) error {
	var src unix.Stat_t
	err := unix.Stat(s.Source, &src)
	if errors.Is(err, unix.ENOENT) && s.Create {
		if err = os.MkdirAll(s.Source, 0o755); err == nil {
			err = unix.Stat(s.Source, &src)
		}
	}
	if err != nil {
		return fmt.Errorf("bind source: %w", &os.PathError{Op: "stat", Path: s.Source, Err: err})
	}
	fd, resolved, err := a.target(s, src.Mode&unix.S_IFMT == unix.S_IFDIR)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := bindOrAttach(s.Source, fd); err != nil {
		// The kernel says ENOTDIR for a file bound on a dir as for the other way round.
		var st unix.Stat_t
		if errors.Is(err, unix.ENOTDIR) && src.Mode&unix.S_IFMT != unix.S_IFDIR &&
			unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = unix.EISDIR
		}
		return &os.PathError{Op: "mount", Path: resolved, Err: err}
	}
	if s.Flags == 0 && s.Propagation == 0 {
		return nil
	}
	// Before the pivot, the place the target led to is opened again by that path, with no
	// symlink: nothing can lead it elsewhere since.
	mode := noLinks
	if a.pivoted {
		mode = followLinks
	}
	bound, err := a.reopenMount(resolved, mode, &src)
	if err != nil {
		return err
	}
	defer unix.Close(bound)
	if s.Flags&unix.MS_RDONLY != 0 {
		if err := remountReadOnly(bound); err != nil {
			return err
		}
	}
	if other := s.Flags &^ unix.MS_RDONLY; other != 0 {
		if err := remountWith(bound, other); err != nil {
			return err
		}
	}
	if s.Propagation != 0 {
		return unix.Mount("", fdPath(bound), "", s.Propagation, "")
	}
	return nil
}

// device makes s.Target a device node like the host's s.Source (deviceAt), in its parent dir
// opened inside the root (made when missing: /dev/net for /dev/net/tun).
func (a *planApplier) device(s Step) error {
	dir, name := path.Dir(s.Target), path.Base(s.Target)
	pfd, _, err := a.lookup(dir, followLinks)
	if errors.Is(err, unix.ENOENT) {
		pfd, _, err = a.makeTarget(dir, true, followLinks)
	}
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	return deviceAt(s, pfd, name)
}

// deviceAt makes name in dirfd a device node like the host's s.Source. A node costs one
// mknod where a bind costs a file and a mount (the mount namespace's teardown at exit pays
// for each mount again); a bind is the fallback where mknod is not allowed.
func deviceAt(s Step, dirfd int, name string) error {
	var st unix.Stat_t
	if err := unix.Stat(s.Source, &st); err != nil {
		return fmt.Errorf("device: %w", err)
	}
	kind := st.Mode & unix.S_IFMT
	if kind != unix.S_IFCHR && kind != unix.S_IFBLK {
		return fmt.Errorf("device: %s is not a device node", s.Source)
	}
	err := unix.Mknodat(dirfd, name, kind|st.Mode&0o7777, int(st.Rdev))
	switch {
	case errors.Is(err, unix.EPERM):
		return bindDeviceAt(s, dirfd, name)
	case err != nil:
		return err
	}
	// The mode and owner are the host's. The init's umask is 0, so mknod gave the mode;
	// the node is opened without following a symlink to check, and fixed where it differs.
	fd, err := openBeneath(dirfd, name)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var got unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil {
		return err
	}
	if got.Mode&unix.S_IFMT != kind || got.Rdev != st.Rdev {
		return fmt.Errorf("device: %s changed while it was made", s.Target)
	}
	if got.Mode != st.Mode {
		if err := unix.Chmod(fdPath(fd), st.Mode&0o7777); err != nil {
			return err
		}
	}
	if got.Uid != st.Uid || got.Gid != st.Gid {
		return unix.Fchownat(fd, "", int(st.Uid), int(st.Gid), unix.AT_EMPTY_PATH)
	}
	return nil
}

// bindDeviceAt binds the host's node s.Source on name in dirfd, an empty file made for it.
// The node is opened once, checked to be a device, and bound through that fd: a host path
// swapped after a check by its path (for a link to a file) would bind the file instead.
func bindDeviceAt(s Step, dirfd int, name string) error {
	src, err := unix.Open(s.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("device: %w", err)
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return fmt.Errorf("device: %w", err)
	}
	if k := st.Mode & unix.S_IFMT; k != unix.S_IFCHR && k != unix.S_IFBLK {
		return fmt.Errorf("device: %s is not a device node", s.Source)
	}
	fd, err := createAt(dirfd, name, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Mount(fdPath(src), fdPath(fd), "", unix.MS_BIND, "")
}

// symlink makes s.Target a symlink to s.Source, replacing what is there, in its parent dir
// opened inside the root.
func (a *planApplier) symlink(s Step) error {
	pfd, _, err := a.lookup(path.Dir(s.Target), followLinks)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	name := path.Base(s.Target)
	err = unix.Unlinkat(pfd, name, 0)
	if errors.Is(err, unix.EISDIR) {
		err = unix.Unlinkat(pfd, name, unix.AT_REMOVEDIR)
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return unix.Symlinkat(s.Source, pfd, name)
}

// remountReadOnly makes the mount whose root fd is open on read-only, recursively when the
// kernel has mount_setattr (a read-only -v of a tree with submounts stays read-only all the
// way down, which a plain remount does not do), else with a bind remount that keeps the other
// flags.
func remountReadOnly(fd int) error {
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
	if err == nil {
		return nil
	}
	return remountWith(fd, unix.MS_RDONLY)
}

// isMountRoot says whether fd is open on the root of a mount (statx's STATX_ATTR_MOUNT_ROOT,
// Linux 5.8); false when the kernel cannot say.
func isMountRoot(fd int) bool {
	var stx unix.Statx_t
	if unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, 0, &stx) != nil {
		return false
	}
	return stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}

// remountWith adds flags to the mount whose root fd is open on, keeping those it already
// has: a bind remount replaces all per-mount flags, so nosuid/nodev/noexec of /proc would
// otherwise be lost.
func remountWith(fd int, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
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
	return unix.Mount("", fdPath(fd), "", unix.MS_BIND|unix.MS_REMOUNT|have|flags, "")
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
