package mount

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Unmount unmounts target with umount2(2) flags (unix.MNT_DETACH, ...), retrying on EINTR.
func Unmount(target string, flags int) error {
	if err := unmountRetry(target, flags); err != nil {
		return fmt.Errorf("unmounting %s: %w", target, err)
	}
	return nil
}

func unmountRetry(target string, flags int) error {
	for {
		err := unix.Unmount(target, flags)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// UnmountAll unmounts every mount at or under target, deepest first, each with MNT_DETACH so
// a busy mount (a shell still inside) does not stop the cleanup. Mounts stacked on one path
// are unmounted until none is left. A target that does not exist has nothing mounted.
func UnmountAll(target string) error {
	abs, err := filepath.Abs(target)
	if err != nil {
		return fmt.Errorf("unmounting under %s: %w", target, err)
	}
	// mountinfo shows resolved paths; a symlink in target would otherwise match nothing.
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	// Each round unmounts the top mount of every mountpoint found; stacked mounts need more.
	for round := 0; ; round++ {
		infos, err := Mounts(mountinfo.PrefixFilter(abs))
		if err != nil {
			return fmt.Errorf("unmounting under %s: reading mountinfo: %w", target, err)
		}
		if len(infos) == 0 {
			return nil
		}
		if round >= 64 {
			return fmt.Errorf("unmounting under %s: %d mounts remain", target, len(infos))
		}
		sort.Slice(infos, func(i, j int) bool {
			di, dj := strings.Count(infos[i].Mountpoint, "/"), strings.Count(infos[j].Mountpoint, "/")
			if di != dj {
				return di > dj
			}
			return infos[i].Mountpoint > infos[j].Mountpoint
		})
		var errs []error
		for _, m := range infos {
			err := unmountRetry(m.Mountpoint, unix.MNT_DETACH)
			// EINVAL: already gone (a parent's detach took it along); ENOENT: path removed.
			if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("unmounting %s: %w", m.Mountpoint, err))
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
}
