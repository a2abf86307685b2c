package runner

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// userDevice makes the node of a --device (OpUserDevice). Its dir is resolved inside the
// root, as a mount's target is, and refused where it leads into /proc or /sys: a node (or,
// without CAP_MKNOD, a bind) there would cover the kernel's files the masks and read-only
// paths guard. What the image has at the name is replaced by the node, as the user asked,
// except a directory, or a device of other numbers; the container's null device at /dev/null,
// kept first (OpKeepNull), is replaced too.
func (a *planApplier) userDevice(s Step) error {
	dir, name := path.Dir(s.Target), path.Base(s.Target)
	pfd, resolved, err := a.lookup(dir, resolveLinks)
	if errors.Is(err, unix.ENOENT) {
		pfd, resolved, err = a.makeTarget(dir, true, resolveLinks)
		if errors.Is(err, unix.EPERM) && strings.HasPrefix(dir+"/", "/dev/pts/") {
			return targetError{fmt.Errorf("device %s: /dev/pts is the container's devpts, which holds only the terminals it makes", s.Target)}
		}
	}
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if r := path.Clean("/" + resolved); underKernelFS(r) {
		return targetError{fmt.Errorf("device %s: %s in the image leads to %s", s.Target, dir, r)}
	}
	var host, got unix.Stat_t
	if err := unix.Stat(s.Source, &host); err != nil {
		return fmt.Errorf("device: %w", err)
	}
	err = unix.Fstatat(pfd, name, &got, unix.AT_SYMLINK_NOFOLLOW)
	switch kind := got.Mode & unix.S_IFMT; {
	case errors.Is(err, unix.ENOENT):
	case err != nil:
		return err
	case kind == unix.S_IFDIR:
		return targetError{fmt.Errorf("device %s: a directory is there", s.Target)}
	case kind == unix.S_IFCHR || kind == unix.S_IFBLK:
		if kind == host.Mode&unix.S_IFMT && got.Rdev == host.Rdev {
			return nil // made already: a standard device, or a privileged container's
		}
		if s.Target == "/dev/null" && a.nullSrc != "" && kind == unix.S_IFCHR && got.Rdev == unix.Mkdev(1, 3) {
			// The container's null device, kept for the masks and the command's stdin
			// (OpKeepNull): the user's covers it.
			return a.coverNull(s, pfd, name)
		}
		return targetError{fmt.Errorf("device %s: another device (%d:%d) is there already", s.Target, unix.Major(got.Rdev), unix.Minor(got.Rdev))}
	default:
		if err := unix.Unlinkat(pfd, name, 0); err != nil {
			return fmt.Errorf("replacing the image's %s: %w", s.Target, err)
		}
	}
	// The root is mounted nodev (a node an image ships never opens): a node made there
	// would not open either, so outside /dev's tmpfs the host's own node is bound, which
	// keeps its mount's flags, as runc binds devices where it may not mknod.
	return makeUserDevice(s, pfd, name, resolved)
}

// makeUserDevice makes the node of s as name in the dir pfd, resolved in the container.
func makeUserDevice(s Step, pfd int, name, resolved string) error {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(pfd, &fs); err != nil {
		return err
	}
	if fs.Type == unix.DEVPTS_SUPER_MAGIC {
		// devpts makes no node nor file (docker's runc fails there too, "permission
		// denied"): named, where it said "userdevice /dev/pts/x: permission denied".
		return targetError{fmt.Errorf("device %s: %s is the container's devpts, which holds only the terminals it makes", s.Target, path.Clean("/"+resolved))}
	}
	if fs.Flags&unix.ST_NODEV != 0 {
		if _, err := statDevice(s.Source); err != nil {
			return err
		}
		return bindDeviceAt(s, pfd, name)
	}
	return deviceAt(s, pfd, name)
}

// statDevice stats the host's node p, which must be a char or block device.
func statDevice(p string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return st, fmt.Errorf("device: %w", err)
	}
	if k := st.Mode & unix.S_IFMT; k != unix.S_IFCHR && k != unix.S_IFBLK {
		return st, fmt.Errorf("device: %s is not a device node", p)
	}
	return st, nil
}

// sysctl writes s.Data to s.Target, a file under /proc/sys (OpSysctl). /proc/sys is opened
// in the root without following a symlink and must be procfs; the file is opened beneath it
// the same way, on no other mount: a sysctl key cannot name a file elsewhere.
func (a *planApplier) sysctl(s Step) error {
	rel, ok := strings.CutPrefix(s.Target, "/proc/sys/")
	if !ok || rel == "" {
		return fmt.Errorf("%s is not under /proc/sys", s.Target)
	}
	dir, _, err := a.lookup("/proc/sys", noLinks)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(dir, &fs); err != nil {
		return err
	}
	if fs.Type != unix.PROC_SUPER_MAGIC {
		return errors.New("/proc/sys is not procfs")
	}
	fd, err := unix.Openat2(dir, rel, &unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if errors.Is(err, unix.ENOSYS) {
		// Before openat2 (Linux 5.6): procfs's /proc/sys has no symlinks to follow, and
		// the file is checked to be procfs's.
		if fd, err = unix.Openat(dir, rel, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0); err == nil {
			if err = unix.Fstatfs(fd, &fs); err == nil && fs.Type != unix.PROC_SUPER_MAGIC {
				err = unix.EXDEV
			}
			if err != nil {
				unix.Close(fd)
			}
		}
	}
	if errors.Is(err, unix.ENOENT) {
		return errors.New("the kernel has no such sysctl")
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte(s.Data))
	return err
}

// setOomScoreAdj writes --oom-score-adj for the init, which the command inherits. Below the
// floor strata's process got (oom_score_adj_min: the value a process with CAP_SYS_RESOURCE
// last set, 0 by default) the kernel wants CAP_SYS_RESOURCE, which some hosts' root does not
// hold: that EACCES is told in those words, never left silent.
func setOomScoreAdj(n int) error {
	cur := "?"
	if b, err := os.ReadFile("/proc/self/oom_score_adj"); err == nil {
		cur = strings.TrimSpace(string(b))
	}
	if cur == strconv.Itoa(n) {
		return nil
	}
	err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(n)), 0)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		return fmt.Errorf("setting oom_score_adj to %d: permission denied: lowering it below strata's own (%s) needs CAP_SYS_RESOURCE, which this host does not give strata", n, cur)
	}
	if err != nil {
		return fmt.Errorf("setting oom_score_adj to %d: %w", n, err)
	}
	return nil
}

// coverNull puts the user's device of s over name, the container's null device in pfd, kept
// for the masks and the command's stdin (OpKeepNull): made beside it and bound over it, it
// leaves the kept node linked, as a bind may only be made from a linked file (unlinked, the
// masks failed to bind it: "no such file or directory").
func (a *planApplier) coverNull(s Step, pfd int, name string) error {
	const spare = ".strata-user-null"
	if err := unix.Unlinkat(pfd, spare, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("replacing /dev/null: %w", err)
	}
	if err := makeUserDevice(s, pfd, spare, path.Dir(s.Target)); err != nil {
		return err
	}
	defer func() {
		// A bind of the host's node (no mknod) is a mount of its own.
		if fd, err := openBeneath(pfd, spare); err == nil {
			unix.Unmount(fdPath(fd), unix.MNT_DETACH)
			unix.Close(fd)
		}
		unix.Unlinkat(pfd, spare, 0)
	}()
	src, err := openBeneath(pfd, spare)
	if err != nil {
		return err
	}
	defer unix.Close(src)
	dst, err := openBeneath(pfd, name)
	if err != nil {
		return err
	}
	defer unix.Close(dst)
	if err := unix.Mount(fdPath(src), fdPath(dst), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("replacing /dev/null: %w", err)
	}
	return nil
}
