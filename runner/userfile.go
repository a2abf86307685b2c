package runner

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// ReadUserFile reads a file a user named on the command line (--env-file, a seccomp
// profile): only a regular file, at most max bytes. It is opened non-blocking, so a FIFO with
// no writer or a device fails at once instead of hanging strata.
func ReadUserFile(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return data, nil
}
