package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// errNewAPI marks a failure that means "this kernel cannot do overlay through the new mount
// API", as opposed to a failure of the mount itself; mountOverlay then falls back to mount(2).
var errNewAPI = errors.New("new mount api unavailable")

// fsconfigMaxString is the longest string fsconfig(FSCONFIG_SET_STRING) accepts: the kernel
// copies values with strndup_user(value, 256), NUL included (fs/fsopen.c).
const fsconfigMaxString = 255

// mountOverlay mounts overlay at target. Images with 128+ layers do not fit the one page that
// mount(2) copies of its data string, so, in order:
//
//  1. the new mount API (fsopen/fsconfig/fsmount/move_mount) with one "lowerdir+" per layer
//     (kernel >= 6.8), which has no total length limit;
//  2. mount(2) with the full data string, when it fits a page;
//  3. mount(2) with the lowerdirs relative to their common parent, from a thread whose cwd
//     is that parent (containerd core/mount/mount_linux.go does the same with a child);
//  4. mount(2) with the lowerdirs as short symlinks 0, 1, 2, ... in a temporary directory,
//     from a thread whose cwd is that directory. overlayfs resolves each lowerdir once, at
//     mount time, so the symlinks are removed right after.
//
// Steps 3 and 4 change the cwd of one locked OS thread after unshare(CLONE_FS), so the rest
// of the process keeps its cwd; that thread is then left locked so the runtime discards it.
func mountOverlay(source, target string, o overlayOptions) error {
	if len(o.lowers) == 0 {
		return errors.New("overlay needs at least one lowerdir")
	}
	if source == "" {
		source = "overlay"
	}
	target, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	for i, l := range o.lowers {
		if o.lowers[i], err = filepath.Abs(l); err != nil {
			return err
		}
	}
	if o.upper != "" {
		if o.upper, err = filepath.Abs(o.upper); err != nil {
			return err
		}
	}
	if o.work != "" {
		if o.work, err = filepath.Abs(o.work); err != nil {
			return err
		}
	}

	err = mountOverlayAnyAPI(source, target, o)
	if err != nil && errors.Is(err, unix.EINVAL) && slices.Contains(o.data, volatileOption) {
		// "volatile" (Linux 5.10) only spares syncs: a kernel without it mounts the same
		// overlay with them.
		o.data = slices.DeleteFunc(slices.Clone(o.data), func(d string) bool { return d == volatileOption })
		err = mountOverlayAnyAPI(source, target, o)
	}
	if err != nil {
		return err
	}
	return applyPropagation(target, o.propagation)
}

// volatileOption makes overlayfs skip every sync of the upper filesystem, including the
// syncfs of the whole host filesystem at unmount (see snapshotter.Volatile).
const volatileOption = "volatile"

// mountOverlayAnyAPI mounts through the new mount API, or mount(2) where the kernel lacks it.
func mountOverlayAnyAPI(source, target string, o overlayOptions) error {
	err := mountOverlayNewAPI(source, target, o)
	if !errors.Is(err, errNewAPI) {
		return err
	}
	return mountOverlayLegacy(source, target, o)
}

// mountOverlayNewAPI mounts through fsopen("overlay"). It returns an error wrapping errNewAPI
// when the kernel lacks the API or the "lowerdir+" key, so the caller can fall back.
func mountOverlayNewAPI(source, target string, o overlayOptions) (err error) {
	// overlayfs removes backslashes from upperdir and workdir, through fsconfig too (it
	// reads them with mount(2)'s escapes), but not from a "lowerdir+" path.
	o.upper, o.work = escapeBackslash(o.upper), escapeBackslash(o.work)
	for _, p := range append([]string{source, o.upper, o.work}, o.lowers...) {
		if len(p) > fsconfigMaxString {
			return fmt.Errorf("%w: path longer than %d bytes", errNewAPI, fsconfigMaxString)
		}
	}
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		// ENOSYS: old kernel; EPERM: a seccomp filter that blocks the new API.
		return fmt.Errorf("%w: fsopen: %w", errNewAPI, err)
	}
	defer unix.Close(fd)
	fsErr := func(what string, err error) error {
		if msg := fsLog(fd); msg != "" {
			return fmt.Errorf("%s: %w (%s)", what, err, msg)
		}
		return fmt.Errorf("%s: %w", what, err)
	}

	if err := unix.FsconfigSetString(fd, "source", source); err != nil {
		return fsErr("setting source", err)
	}
	for i, l := range o.lowers {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			if i == 0 && errors.Is(err, unix.EINVAL) {
				// Before 6.8 overlayfs does not know the key.
				return fmt.Errorf("%w: lowerdir+: %w", errNewAPI, err)
			}
			return fsErr("adding lowerdir "+l, err)
		}
	}
	if o.upper != "" {
		if err := unix.FsconfigSetString(fd, "upperdir", o.upper); err != nil {
			return fsErr("setting upperdir", err)
		}
	}
	if o.work != "" {
		if err := unix.FsconfigSetString(fd, "workdir", o.work); err != nil {
			return fsErr("setting workdir", err)
		}
	}
	for _, d := range o.data {
		k, v, hasValue := strings.Cut(d, "=")
		if hasValue {
			err = unix.FsconfigSetString(fd, k, v)
		} else {
			err = unix.FsconfigSetFlag(fd, k)
		}
		if err != nil {
			return fsErr("setting "+d, err)
		}
	}
	for _, sb := range superblockFlags(o.flags) {
		if err := unix.FsconfigSetFlag(fd, sb); err != nil {
			return fsErr("setting "+sb, err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fsErr("creating overlay", err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, mountAttrs(o.flags))
	if err != nil {
		return fsErr("fsmount", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// escapeBackslash escapes the backslashes of p, which overlayfs would take for escapes.
func escapeBackslash(p string) string { return strings.ReplaceAll(p, `\`, `\\`) }

// fsLog reads the messages the kernel queued on an fs context fd; they say why fsconfig
// failed ("overlayfs: failed to resolve '...'") where errno alone says EINVAL.
func fsLog(fd int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for range 16 {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		msg := strings.TrimSpace(string(buf[:n]))
		// Each message starts with its level: "e " (error), "w " (warning) or "i " (info).
		if len(msg) > 2 && msg[1] == ' ' && strings.IndexByte("ewi", msg[0]) >= 0 {
			msg = msg[2:]
		}
		msgs = append(msgs, msg)
	}
	return strings.Join(msgs, "; ")
}

// mountAttrs maps per-mount MS_* flags to the new API's MOUNT_ATTR_* bits.
func mountAttrs(flags uintptr) int {
	var a int
	for _, m := range []struct {
		ms   uintptr
		attr int
	}{
		{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
		{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
		{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
		{unix.MS_NOATIME, unix.MOUNT_ATTR_NOATIME},
		{unix.MS_STRICTATIME, unix.MOUNT_ATTR_STRICTATIME},
		{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
	} {
		if flags&m.ms != 0 {
			a |= m.attr
		}
	}
	return a
}

// superblockFlags are the MS_* flags that belong to the filesystem rather than the mount;
// the new API sets them with fsconfig flag keys.
func superblockFlags(flags uintptr) []string {
	var out []string
	if flags&unix.MS_SYNCHRONOUS != 0 {
		out = append(out, "sync")
	}
	if flags&unix.MS_DIRSYNC != 0 {
		out = append(out, "dirsync")
	}
	return out
}

// mountOverlayLegacy is steps 2 to 4 of mountOverlay, with mount(2).
func mountOverlayLegacy(source, target string, o overlayOptions) error {
	limit := unix.Getpagesize() - 1 // mount(2) copies one page, NUL included
	data := o.overlayData(o.lowers, o.upper, o.work)
	if len(data) <= limit {
		return mountRetry(source, target, "overlay", o.flags, data)
	}

	parent := commonParent(o.lowers)
	rel := make([]string, len(o.lowers))
	for i, l := range o.lowers {
		r, err := filepath.Rel(parent, l)
		if err != nil {
			return err
		}
		rel[i] = r
	}
	if data := o.overlayData(rel, o.upper, o.work); len(data) <= limit {
		return inDir(parent, func() error {
			return mountRetry(source, target, "overlay", o.flags, data)
		})
	}

	links, err := os.MkdirTemp("", "strata-ovl-")
	if err != nil {
		return fmt.Errorf("creating lowerdir symlinks: %w", err)
	}
	defer os.RemoveAll(links)
	short := make([]string, len(o.lowers))
	for i, l := range o.lowers {
		short[i] = strconv.Itoa(i)
		if err := os.Symlink(l, filepath.Join(links, short[i])); err != nil {
			return fmt.Errorf("creating lowerdir symlinks: %w", err)
		}
	}
	data = o.overlayData(short, o.upper, o.work)
	if len(data) > limit {
		return fmt.Errorf("overlay options are %d bytes even with short lowerdirs, over the %d-byte page", len(data), limit)
	}
	return inDir(links, func() error {
		return mountRetry(source, target, "overlay", o.flags, data)
	})
}

// commonParent is the longest directory that contains every path in paths (all absolute).
func commonParent(paths []string) string {
	parent := filepath.Dir(paths[0])
	for _, p := range paths[1:] {
		for parent != "/" && !strings.HasPrefix(p, parent+"/") {
			parent = filepath.Dir(parent)
		}
	}
	return parent
}

// inDir runs fn on a dedicated OS thread whose cwd is dir, leaving the process's cwd alone:
// unshare(CLONE_FS) gives the thread its own cwd, and the thread is never unlocked, so the
// runtime ends it when the goroutine returns instead of reusing it with the wrong cwd.
func inDir(dir string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_FS): %w", err)
			return
		}
		if err := unix.Chdir(dir); err != nil {
			errc <- fmt.Errorf("chdir %s: %w", dir, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
