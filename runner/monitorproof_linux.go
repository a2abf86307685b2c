package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// A container's state names the process that monitors it (State.MonitorPid), and its start
// time tells that process from a later one with its pid. That it is alive does not say it is
// the container's monitor: a hand-made or damaged state.json may name any live process with
// its true start time, a strata one too (a `strata events -f`, another container's monitor),
// and wait, start and stop then waited for that process to end. A detached monitor proves
// itself by its command line (isDetachedMonitor); a strata CLI that monitors the container
// itself (a foreground run, or a run -d until its monitor takes over) by holding an open
// file of the container's lock file for as long as it is recorded as the monitor. No other
// strata process keeps that file open: a start, stop or rm opens it to lock the container
// for a moment, and waiters and log followers hold the dir or the log instead.

// monitorProofs holds this process's proof, by container ID: the container's lock file,
// opened (never locked) by holdMonitorProof.
var monitorProofs sync.Map

// holdMonitorProof opens c's lock file, making it if need be, and keeps it open until
// dropMonitorProof, as the proof that this process monitors c. It is opened on its own, not
// shared with a lock's open file, whose flock it would keep held; it is never inherited.
func holdMonitorProof(c *Container) error {
	if _, ok := monitorProofs.Load(c.ID); ok {
		return nil
	}
	// Never through a symlink, nor blocking in open(2) on a FIFO, as lock (lockfile) opens it.
	fd, err := unix.Open(filepath.Join(c.Dir, lockFile), unix.O_RDONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("container %s: opening its lock file: %w", shortID(c.ID), err)
	}
	f := os.NewFile(uintptr(fd), lockFile)
	if _, loaded := monitorProofs.LoadOrStore(c.ID, f); loaded {
		_ = f.Close() // another goroutine's is held
	}
	return nil
}

// dropMonitorProof closes the proof holdMonitorProof opened for container id, if any: this
// process no longer monitors it.
func dropMonitorProof(id string) {
	if f, ok := monitorProofs.LoadAndDelete(id); ok {
		_ = f.(*os.File).Close()
	}
}

// holdsMonitorProof reports whether process pid holds an open file of container id's lock
// file, dir/lock (holdMonitorProof). Only the links of its fds that name that file are
// stat'ed, to be sure it is the same file and not one named alike.
func holdsMonitorProof(pid int, id, dir string) bool {
	want, err := os.Lstat(filepath.Join(dir, lockFile))
	if err != nil || !want.Mode().IsRegular() {
		return false
	}
	fds := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	d, err := os.Open(fds)
	if err != nil {
		return false
	}
	defer d.Close()
	suffix := "/" + id + "/" + lockFile
	for {
		names, err := d.Readdirnames(256)
		for _, n := range names {
			link, lerr := os.Readlink(filepath.Join(fds, n))
			if lerr != nil || !strings.HasSuffix(link, suffix) {
				continue
			}
			if fi, serr := os.Stat(filepath.Join(fds, n)); serr == nil && os.SameFile(fi, want) {
				return true
			}
		}
		if err != nil { // io.EOF: no more fds
			return false
		}
	}
}
