package runner

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The init starts from a sealed in-memory copy of strata, never from the binary on disk. A
// container that makes its command /proc/self/exe would otherwise run the host's strata inside
// the container, and could then open that file for writing through /proc/<pid>/exe and replace
// the host binary (CVE-2019-5736). A memfd sealed against writes and resizes cannot be changed
// by anyone, root included. runc has done this since 1.0-rc6 (libcontainer/nsenter/cloned_binary.c).
var (
	sealedMu   sync.Mutex
	sealedPath string
	sealedFD   = -1
)

// sealedExeFD is above any fd os/exec maps into the child (0-2 and ExtraFiles from 3), so the
// child still has the copy open when it calls execve("/proc/self/fd/N").
const sealedExeFD = 100

// sealedExe returns the path, valid in this process and in children it forks, of a sealed
// memfd copy of the running binary. The copy is made once per process.
func sealedExe() (string, error) {
	sealedMu.Lock()
	defer sealedMu.Unlock()
	if sealedFD >= 0 {
		return sealedPath, nil
	}
	fd, err := makeSealedExe()
	if err != nil {
		return "", err
	}
	sealedFD, sealedPath = fd, fmt.Sprintf("/proc/self/fd/%d", fd)
	return sealedPath, nil
}

// releaseSealedExe frees the copy in a process that starts no more containers (the
// monitor): a copy of strata per detached container would otherwise stay in memory. A
// started init keeps its own reference until it execs the command.
func releaseSealedExe() {
	sealedMu.Lock()
	defer sealedMu.Unlock()
	if sealedFD >= 0 {
		unix.Close(sealedFD)
		sealedFD, sealedPath = -1, ""
	}
}

// makeSealedExe copies /proc/self/exe into a sealed memfd and returns its fd.
func makeSealedExe() (int, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return -1, fmt.Errorf("copying strata binary: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("strata-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, fmt.Errorf("copying strata binary: memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "strata-init")
	if _, err := io.Copy(mem, src); err != nil {
		mem.Close()
		return -1, fmt.Errorf("copying strata binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return -1, fmt.Errorf("sealing strata binary copy: %w", err)
	}
	high, err := unix.FcntlInt(mem.Fd(), unix.F_DUPFD_CLOEXEC, sealedExeFD)
	mem.Close()
	if err != nil {
		return -1, fmt.Errorf("copying strata binary: %w", err)
	}
	return high, nil
}
