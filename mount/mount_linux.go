package mount

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrUnsupported is returned for a Mount whose Type this package cannot mount.
var ErrUnsupported = errors.New("unsupported mount")

// Mount mounts m at target, the resolved absolute path (m.Target is where the mount belongs
// inside a rootfs; the caller resolves it, so Mount never follows paths it did not choose).
//
// Overlay goes through the new mount API when the kernel has it, so any number of lowerdirs
// fits (see mountOverlay). A bind ("bind"/"rbind" in Options, or Type "bind") that asks for
// "ro", "nosuid", ... is remounted, because the kernel ignores those flags when it creates a
// bind. Propagation words ("private", "rslave", ...) are applied last, each by its own call.
func (m Mount) Mount(target string) error {
	if err := m.mount(target); err != nil {
		what := m.Type + " " + m.Source
		switch {
		case m.Source == "" || m.Source == m.Type:
			what = m.Type // "overlay", "tmpfs"
		case m.Type == "":
			what = m.Source // a bind's source
		}
		return fmt.Errorf("mounting %s at %s: %w", what, target, err)
	}
	return nil
}

func (m Mount) mount(target string) error {
	if m.Type == "overlay" {
		return mountOverlay(m.Source, target, parseOverlayOptions(m.Options))
	}
	p := parseOptions(m.Options)
	typ := m.Type
	if typ == "bind" || typ == "rbind" {
		p.flags |= unix.MS_BIND
		if typ == "rbind" {
			p.flags |= unix.MS_REC
		}
		typ = ""
	}
	if typ == "" && p.flags&unix.MS_BIND == 0 && p.flags&unix.MS_REMOUNT == 0 {
		return fmt.Errorf("%w: no type and neither bind nor remount", ErrUnsupported)
	}
	data := strings.Join(p.data, ",")
	if err := mountRetry(m.Source, target, typ, p.flags, data); err != nil {
		return err
	}
	if p.flags&unix.MS_BIND != 0 && p.flags&unix.MS_REMOUNT == 0 && p.flags&bindRemountFlags != 0 {
		if err := restrictBind(target, p.flags); err != nil {
			return errors.Join(fmt.Errorf("remounting bind: %w", err), unmountRetry(target, unix.MNT_DETACH))
		}
	}
	return applyPropagation(target, p.propagation)
}

// restrictBind applies "ro", "nosuid", ... to a fresh bind. For an rbind they must reach every
// submount too, or a read-only rbind of / would leave /proc or a volume writable: the
// mount_setattr(2) call with AT_RECURSIVE does that (kernel >= 5.12); a remount, the fallback,
// reaches only the top mount.
func restrictBind(target string, flags uintptr) error {
	if flags&unix.MS_REC != 0 {
		attr := unix.MountAttr{Attr_set: uint64(mountAttrs(flags))}
		if flags&(unix.MS_NOATIME|unix.MS_STRICTATIME|unix.MS_RELATIME) != 0 {
			// The atime modes are one field: it is cleared, then set.
			attr.Attr_clr = unix.MOUNT_ATTR__ATIME
		}
		err := unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE, &attr)
		if !errors.Is(err, unix.ENOSYS) {
			return err
		}
	}
	return remountBind(target, unix.MS_REMOUNT|unix.MS_BIND|(flags&bindRemountFlags))
}

// remountBind applies per-mount flags to a fresh bind. A bind of a filesystem mounted with
// locked flags (nodev, nosuid, noexec in a user namespace) refuses a remount that drops
// them with EPERM, so the source's locked flags are added to ours.
func remountBind(target string, flags uintptr) error {
	err := mountRetry("", target, "", flags, "")
	if !errors.Is(err, unix.EPERM) {
		return err
	}
	var st unix.Statfs_t
	if serr := unix.Statfs(target, &st); serr != nil {
		return err
	}
	locked := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY)
	return mountRetry("", target, "", flags|locked, "")
}

func applyPropagation(target string, props []uintptr) error {
	for _, p := range props {
		if err := mountRetry("", target, "", p, ""); err != nil {
			return fmt.Errorf("setting propagation: %w", err)
		}
	}
	return nil
}

// mountRetry is mount(2) retried on EINTR, which a signal to the process can cause.
func mountRetry(source, target, fstype string, flags uintptr, data string) error {
	for {
		err := unix.Mount(source, target, fstype, flags, data)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
