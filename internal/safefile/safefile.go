// Package safefile opens files that strata reads or appends to but that others can replace:
// a store's index.json, a container's config.json or log, a user's --env-file. Each is opened
// O_NONBLOCK, so that a FIFO or device put in its place fails at once instead of blocking
// open(2) for good (no context reaches an open), and must turn out a regular file.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

var (
	// ErrNotRegular is returned for a path that holds something other than a regular file
	// (with NoFollow, a symlink too).
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooBig is returned by Read for a file over its limit.
	ErrTooBig = errors.New("file too big")
)

// NoFollow, added to Open's flag, refuses a symlink at path's last component (ErrNotRegular),
// where following it would read or write a file elsewhere on the host.
const NoFollow = unix.O_NOFOLLOW

// Open opens path with flag (os.O_RDONLY, os.O_WRONLY|os.O_APPEND|os.O_CREATE, … and maybe
// NoFollow) and perm, close-on-exec and without blocking, and returns it only if it is a
// regular file: anything else is a *fs.PathError wrapping ErrNotRegular that names what it is.
func Open(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, perm)
	switch {
	case flag&NoFollow != 0 && errors.Is(err, unix.ELOOP):
		return nil, notRegular(path, "symlink")
	case errors.Is(err, unix.EISDIR):
		return nil, notRegular(path, "directory")
	case err != nil:
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, notRegular(path, Kind(fi.Mode()))
	}
	return f, nil
}

// Read reads the regular file at path (flag: os.O_RDONLY, maybe with NoFollow) of at most limit
// bytes; a longer one is an error wrapping ErrTooBig.
func Read(path string, flag int, limit int64) ([]byte, error) {
	f, err := Open(path, flag, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %d bytes, at most %d expected", ErrTooBig, fi.Size(), limit)}
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(b)) > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: more than %d bytes", ErrTooBig, limit)}
	}
	return b, nil
}

func notRegular(path, kind string) error {
	return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: a %s", ErrNotRegular, kind)}
}

// Kind names what a file mode is, for messages: "fifo", "directory", …
func Kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	case m.IsDir():
		return "directory"
	case m.IsRegular():
		return "regular file"
	}
	return "special file"
}
