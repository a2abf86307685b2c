package snapshotter

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// removeAll is os.RemoveAll, falling back to removeDeep where that fails: os.RemoveAll keeps a
// directory open per level, and a container can nest directories deeper than a process may
// open files (25,000 levels failed `strata rm` for good, with an error holding the whole path),
// as a layer can (some 1,900 levels within PATH_MAX, past a limit of 1,024 open files: its
// layer dir could not be pruned, nor a failed unpack's half, nor a whited-out copy of it in a
// vfs rootfs). Every tree strata deletes goes through it: container dirs, and layer dirs and
// their temporary dirs under the layer's lock, where nothing renames either.
func removeAll(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	return removeDeep(p)
}

// removeDeep removes the tree at dir holding two directory handles at most: it goes down by
// name and back up by "..", which is sound in a container dir, where nothing renames once the
// container and its mounts are gone, and in a layer dir under its lock. It keeps the names of
// the subdirectories still to remove at each level, so each directory is read once: reading
// it again from the start after each subdirectory took time quadratic in their number.
func removeDeep(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP):
		return os.Remove(dir)
	case err != nil:
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	type level struct {
		name    string
		subdirs []string // left to remove
	}
	var stack []level // from dir down to fd
	buf := make([]byte, 32<<10)
	subdirs, err := clearFilesAt(fd, buf)
	if err == nil {
		stack = append(stack, level{"", subdirs})
	}
	for err == nil && len(stack) > 0 {
		top := &stack[len(stack)-1]
		if n := len(top.subdirs); n > 0 {
			sub := top.subdirs[n-1]
			top.subdirs = top.subdirs[:n-1]
			var next int
			if next, err = unix.Openat(fd, sub, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err != nil {
				break
			}
			unix.Close(fd)
			fd = next
			if subdirs, err = clearFilesAt(fd, buf); err == nil {
				stack = append(stack, level{sub, subdirs})
			}
			continue
		}
		if len(stack) == 1 {
			break // dir is empty
		}
		var up int
		if up, err = unix.Openat(fd, "..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			break
		}
		unix.Close(fd)
		fd = up
		if err = unix.Unlinkat(fd, top.name, unix.AT_REMOVEDIR); err == unix.ENOENT {
			err = nil
		}
		stack = stack[:len(stack)-1]
	}
	unix.Close(fd)
	if err == nil || err == unix.ENOENT {
		err = unix.Rmdir(dir)
	}
	if err != nil {
		return fmt.Errorf("removing %s, %d levels down: %w", dir, max(0, len(stack)-1), err)
	}
	return nil
}

// clearFilesAt unlinks every entry of the directory fd, just opened, but its subdirectories,
// and returns their names.
func clearFilesAt(fd int, buf []byte) ([]string, error) {
	var names []string
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	var subdirs []string
	for _, name := range names {
		err := unix.Unlinkat(fd, name, 0)
		switch err {
		case nil, unix.ENOENT:
			continue
		case unix.EISDIR, unix.EPERM: // EPERM: some filesystems' answer for a directory
			var st unix.Stat_t
			if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
				subdirs = append(subdirs, name)
				continue
			}
		}
		return nil, err
	}
	return subdirs, nil
}
