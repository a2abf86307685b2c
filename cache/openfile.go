package cache

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// errNotRegular is returned for a store file (index.json, a blob) that is a FIFO, device or
// directory.
var errNotRegular = errors.New("not a regular file")

// openRegular opens path for reading, refusing anything but a regular file. O_NONBLOCK keeps
// a FIFO put at path from blocking open(2): every strata command opens index.json, and a FIFO
// there hung them all, past SIGTERM. It changes nothing for a regular file.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: %w; remove it", path, errNotRegular)
	}
	return f, nil
}
