package cgroups

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupfs files are tiny and read or written whole. These helpers go straight to the syscalls:
// os.File would add an fstat and a poller registration to each of the dozens of accesses that
// creating a container's cgroup takes. Errors are *os.PathError, so errors.Is works on them.

// writeFile writes data to dir/file in one write(2), as the kernel wants a value in one piece.
func writeFile(dir, file, data string) error {
	p := filepath.Join(dir, file)
	fd, err := openRetry(p, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC)
	if err != nil {
		return &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	for {
		_, err = unix.Write(fd, []byte(data))
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return &os.PathError{Op: "write", Path: p, Err: err}
	}
	return nil
}

// readFile returns the contents of dir/file.
func readFile(dir, file string) (string, error) {
	p := filepath.Join(dir, file)
	fd, err := openRetry(p, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return "", &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", &os.PathError{Op: "read", Path: p, Err: err}
		}
		if n == 0 {
			return string(buf), nil
		}
		buf = buf[:len(buf)+n]
	}
}

func openRetry(p string, flags int) (int, error) {
	for {
		fd, err := unix.Open(p, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readTrim reads dir/file without the trailing newline the kernel adds.
func readTrim(dir, file string) (string, error) {
	s, err := readFile(dir, file)
	return strings.TrimSpace(s), err
}

// readInt reads a file holding one integer. "max" (v2's "no limit") reads as -1.
func readInt(dir, file string) (int64, error) {
	s, err := readTrim(dir, file)
	if err != nil {
		return 0, err
	}
	if s == "max" {
		return -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, &os.PathError{Op: "parse", Path: filepath.Join(dir, file), Err: err}
	}
	return n, nil
}

// readKeyed reads a flat keyed file ("oom_kill 3\nunder_oom 0\n") and returns the value of key
// and whether the key was there.
func readKeyed(dir, file, key string) (int64, bool, error) {
	s, err := readFile(dir, file)
	if err != nil {
		return 0, false, err
	}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, false, &os.PathError{Op: "parse", Path: filepath.Join(dir, file), Err: err}
		}
		return n, true, nil
	}
	return 0, false, nil
}

// readPids parses a cgroup.procs file: one PID per line.
func readPids(dir string) ([]int, error) {
	s, err := readFile(dir, "cgroup.procs")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range bytes.Fields([]byte(s)) {
		pid, err := strconv.Atoi(string(f))
		if err != nil {
			return nil, &os.PathError{Op: "parse", Path: filepath.Join(dir, "cgroup.procs"), Err: err}
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// fields splits a space-separated list file such as cgroup.controllers.
func fields(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(s) {
		m[f] = true
	}
	return m
}

// retry calls f until it reports done, an error, or the deadline passes; then it returns f's
// last error. Sleeps start at 1 ms and double to 32 ms: processes leave a cgroup within
// microseconds of SIGKILL unless they are stuck in the kernel.
func retry(timeout time.Duration, f func() (done bool, err error)) error {
	deadline := time.Now().Add(timeout)
	sleep := time.Millisecond
	for {
		done, err := f()
		if done || time.Now().After(deadline) {
			return err
		}
		time.Sleep(sleep)
		sleep = min(2*sleep, 32*time.Millisecond)
	}
}

// isNotExist and friends test an error from the helpers above or from mkdir/rmdir.
func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
func isExist(err error) bool    { return errors.Is(err, os.ErrExist) }
