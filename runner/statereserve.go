package runner

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// stateReserve is a file in a kept container's dir holding room (blocks and an inode) for the
// next state.json: the monitor replaces state.json with a new file when the container exits,
// and a container that filled the disk lost its exit (ps showed it Created or Exited (255),
// run said nothing). On a full disk the write takes the reserve's room. A --rm container's
// last state is read by its waiters only and goes with it, and its start stays as cheap.
const stateReserve = ".state.reserve"

// stateReserveSize is the room kept, one block: a state.json is a few hundred bytes.
const stateReserveSize = 4 << 10

// noSpace reports whether err is the file system's: out of blocks or inodes, or over quota.
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// dropStateReserve removes dir's reserve, reporting whether it was there to free room.
func dropStateReserve(dir string) bool {
	path := filepath.Join(dir, stateReserve)
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	return os.Remove(path) == nil
}

// keepStateReserve makes dir's reserve when it is missing, with its blocks allocated (a
// sparse file frees nothing). Best effort: on a full disk it is made by a later write.
func keepStateReserve(dir string) {
	path := filepath.Join(dir, stateReserve)
	if _, err := os.Lstat(path); err == nil {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, stateReserveSize); err != nil {
		_, _ = f.Write(make([]byte, stateReserveSize))
	}
}
