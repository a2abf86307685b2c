package runner

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The init never starts from the strata binary as the host's filesystem has it. A container
// that makes its command /proc/self/exe would otherwise run the host's strata inside the
// container, and could then open that file for writing through /proc/<pid>/exe and replace the
// host binary (CVE-2019-5736). Two protections, the first that works:
//
//  1. a read-only bind mount of the binary that exists in no mount namespace (open_tree with
//     OPEN_TREE_CLONE, then mount_setattr MOUNT_ATTR_RDONLY on the detached mount): a write
//     through any path to it fails with EROFS, and nobody can remount a mount they cannot
//     reach. It costs two syscalls and no copy;
//  2. a copy in a memfd sealed against writes and resizes (runc's approach since 1.0-rc6,
//     libcontainer/nsenter/cloned_binary.c), for kernels without the new mount API.
//
// runc 1.2 made the same trade (libcontainer/exeseal: overlayfs and ro-bind before memfd).
var (
	sealedMu    sync.Mutex
	sealedPath  string
	sealedFD    = -1
	sealedHolds int  // starts between sealedExe and their release
	sealedDrop  bool // dropSealedExe was called while a start held the fd
)

// sealedExeFD is above any fd os/exec maps into the child (0-2 and ExtraFiles from 3), so the
// child still has the protected binary open when it calls execve("/proc/self/fd/N").
const sealedExeFD = 100

// sealedExe returns the path, valid in this process and in children it forks, of a protected
// view of the running binary (see above), and a release to call once the child has exec'd
// it (or failed to start): until then dropSealedExe leaves it open. It is made once per
// process, and again after a drop.
func sealedExe() (path string, release func(), err error) {
	sealedMu.Lock()
	defer sealedMu.Unlock()
	if sealedFD < 0 {
		fd, err := protectedExe()
		if err != nil {
			return "", nil, err
		}
		sealedFD, sealedPath = fd, fmt.Sprintf("/proc/self/fd/%d", fd)
	}
	sealedHolds++
	return sealedPath, sync.OnceFunc(func() {
		sealedMu.Lock()
		defer sealedMu.Unlock()
		if sealedHolds--; sealedHolds == 0 && sealedDrop {
			closeSealedLocked()
		}
	}), nil
}

// protectedExe picks the program helpers start from: the small helper binary when the CLI
// embedded one (UseHelper), else this binary; either way through one of the protections above.
func protectedExe() (int, error) {
	if h := currentHelper(); h != nil {
		return h.open()
	}
	// A helper started from a protected view (the monitor) passes that view on as it is.
	if fd, ok := readOnlySelf(); ok {
		return fd, nil
	}
	fd, err := readOnlyExe("/proc/self/exe")
	if err != nil {
		return makeSealedExe()
	}
	return fd, nil
}

// readOnlySelf returns an fd of the running binary when it already sits on a read-only mount
// or in a write-sealed memfd, so nobody can write to it through /proc/<pid>/exe.
func readOnlySelf() (int, bool) {
	fd, err := unix.Open("/proc/self/exe", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, false
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	protected := unix.Fstatfs(fd, &st) == nil && st.Flags&unix.ST_RDONLY != 0
	if !protected {
		seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
		protected = err == nil && seals&unix.F_SEAL_WRITE != 0 && seals&unix.F_SEAL_SEAL != 0
	}
	if !protected {
		return -1, false
	}
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, sealedExeFD)
	if err != nil {
		return -1, false
	}
	return high, true
}

// dropSealedExe closes the protected binary once no start holds it, in a process that will
// start no more helpers for now (a later start makes it again): a memfd copy per detached
// container would otherwise stay in the monitor's memory. A started child keeps its own
// reference until it execs something else.
//
// The close runs in the background. Closing the last fd of a detached mount makes the
// kernel dissolve it and wait for an expedited RCU grace period, which would otherwise be a
// few milliseconds of this process's exit.
func dropSealedExe() {
	sealedMu.Lock()
	defer sealedMu.Unlock()
	if sealedHolds > 0 {
		sealedDrop = true
		return
	}
	closeSealedLocked()
}

// closeSealedLocked closes the protected binary in the background; sealedMu is held.
func closeSealedLocked() {
	if fd := sealedFD; fd >= 0 {
		go unix.Close(fd)
	}
	sealedFD, sealedPath, sealedDrop = -1, "", false
}

// readOnlyExe returns an O_PATH fd of the program at path on a detached read-only bind mount.
func readOnlyExe(path string) (int, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("cloning a mount of strata's binary: %w", err)
	}
	defer unix.Close(fd)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return -1, fmt.Errorf("making strata's binary read-only: %w", err)
	}
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, sealedExeFD)
	if err != nil {
		return -1, fmt.Errorf("protecting strata's binary: %w", err)
	}
	return high, nil
}

// makeSealedExe copies /proc/self/exe into a sealed memfd and returns its fd.
func makeSealedExe() (int, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return -1, fmt.Errorf("copying strata binary: %w", err)
	}
	defer src.Close()
	return sealedCopy(src)
}

// sealedCopy copies src into a memfd sealed against writes and resizes and returns its fd.
func sealedCopy(src io.Reader) (int, error) {
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
