package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// cidFile is docker's --cidfile: a file made, empty, before the container is, that the
// container's ID is written into once it exists, for scripts (CI systems) that act on the
// container later. As docker's, a file already there is refused, and the file is removed
// again when no container came to be.
type cidFile struct {
	path string
	f    *os.File
}

// createCIDFile makes path, refusing one that exists; "" makes nothing.
func createCIDFile(path string) (*cidFile, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", quotePath(path))
	}
	if err != nil {
		return nil, fmt.Errorf("creating the container ID file: %w", err)
	}
	return &cidFile{path: path, f: f}, nil
}

// write writes id into the file and closes it.
func (c *cidFile) write(id string) error {
	if c == nil || c.f == nil {
		return nil
	}
	_, err := c.f.WriteString(id)
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	c.f = nil
	if err != nil {
		return fmt.Errorf("writing the container ID file %s: %w", quotePath(c.path), err)
	}
	return nil
}

// removeUnwritten removes the file when no ID went into it: the container was not made.
func (c *cidFile) removeUnwritten() {
	if c == nil || c.f == nil {
		return
	}
	c.f.Close()
	c.f = nil
	os.Remove(c.path)
}
