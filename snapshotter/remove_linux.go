package snapshotter

import (
	"errors"
	"fmt"
	"io"
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
// container and its mounts are gone.
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
	var down []string // names from dir down to fd
	buf := make([]byte, 32<<10)
	for {
		var sub string
		if sub, err = clearFilesAt(fd, buf); err != nil {
			break
		}
		var next int
		if sub != "" {
			if next, err = unix.Openat(fd, sub, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err != nil {
				break
			}
			unix.Close(fd)
			fd, down = next, append(down, sub)
			continue
		}
		if len(down) == 0 {
			break // dir is empty
		}
		if next, err = unix.Openat(fd, "..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			break
		}
		unix.Close(fd)
		fd, sub, down = next, down[len(down)-1], down[:len(down)-1]
		if err = unix.Unlinkat(fd, sub, unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
			break
		}
	}
	unix.Close(fd)
	if err == nil || err == unix.ENOENT {
		err = unix.Rmdir(dir)
	}
	if err != nil {
		return fmt.Errorf("removing %s, %d levels down: %w", dir, len(down), err)
	}
	return nil
}

// clearFilesAt unlinks every entry of the directory fd but its subdirectories, and returns the
// first subdirectory's name, or "" when fd holds none.
func clearFilesAt(fd int, buf []byte) (string, error) {
	if _, err := unix.Seek(fd, 0, io.SeekStart); err != nil {
		return "", err
	}
	var names []string
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil || n <= 0 {
			return "", err
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names[:0])
		for _, name := range names {
			err := unix.Unlinkat(fd, name, 0)
			switch err {
			case nil, unix.ENOENT:
				continue
			case unix.EISDIR, unix.EPERM: // EPERM: some filesystems' answer for a directory
				var st unix.Stat_t
				if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
					return name, nil
				}
			}
			return "", err
		}
	}
}
