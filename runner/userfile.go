package runner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/safefile"
)

// ReadUserFile reads a file a user named on the command line (--env-file, a seccomp
// profile), at most max bytes, as docker opens it: through symlinks and of any type, so a
// FIFO, a character device, /dev/fd/N and a shell's process substitution <(…) are read as a
// regular file is. Unlike image content or store files, nobody but the user chose it. As with
// docker, a FIFO with no writer blocks until one comes and a terminal until it is read; an
// endless device (/dev/zero) stops at max with an error wrapping safefile.ErrTooBig. A
// directory is refused in one line.
func ReadUserFile(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: unix.EISDIR}
	}
	if fi.Mode().IsRegular() && fi.Size() > max {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %d bytes, at most %d expected", safefile.ErrTooBig, fi.Size(), max)}
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(b)) > max {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: more than %d bytes", safefile.ErrTooBig, max)}
	}
	return b, nil
}
