package runner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

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
//
// A file is read once per process (and cap): a FIFO or <(…) read a second time would block for
// good, its writer gone, and the CLI reads every such file first, before it holds a lock or
// starts anything that would wait on that read (PreloadUserFiles).
func ReadUserFile(path string, max int64) ([]byte, error) {
	key := userFileKey{path, max}
	if v, ok := userFiles.Load(key); ok {
		r := v.(userFileResult)
		return bytes.Clone(r.data), r.err
	}
	data, err := readUserFile(path, max)
	if err == nil {
		userFilesMu.Lock()
		if userFilesRead+int64(len(data)) > maxUserFilesTotal {
			data, err = nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: with the files read before it, more than %d bytes", safefile.ErrTooBig, maxUserFilesTotal)}
		} else {
			userFilesRead += int64(len(data))
		}
		userFilesMu.Unlock()
	}
	userFiles.Store(key, userFileResult{data, err})
	return bytes.Clone(data), err
}

// userFiles holds what ReadUserFile read in this process.
var userFiles sync.Map // userFileKey → userFileResult

// maxUserFilesTotal bounds what ReadUserFile keeps of all the files one process reads: each
// is kept, and one 16 MiB env file named by hundreds of spellings (f, ./f, .//f …) or as
// many <(…) took as many copies of the host's memory (thirty held 1 GB). Far more than any
// environment, profile or labels a command can pass on. A variable for tests.
var maxUserFilesTotal int64 = 64 << 20

// userFilesRead is what userFiles holds, in bytes.
var (
	userFilesMu   sync.Mutex
	userFilesRead int64
)

type userFileKey struct {
	path string
	max  int64
}

type userFileResult struct {
	data []byte
	err  error
}

// PreloadUserFiles reads the --env-file files of a run or create, as MergeEnv will, so that
// a FIFO whose writer is slow blocks before the CLI holds the store's collection lock or
// starts the container's init; errors are left for MergeEnv to report.
func PreloadUserFiles(envFiles []string) {
	for _, f := range envFiles {
		_, _ = ReadUserFile(f, maxEnvFile)
	}
}

func readUserFile(path string, max int64) ([]byte, error) {
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
