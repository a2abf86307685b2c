// Command strata is a daemonless container tool: pull OCI images into a content-addressed
// store, unpack each layer once, and run containers as plain Linux processes.
package main

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/runner"
)

func main() {
	// The re-executed container init and the detached monitor are this same binary; they must
	// take over before cobra parses anything.
	runner.MaybeInit()
	inheritNoFDs()
	os.Exit(execute(os.Args[1:]))
}

// inheritNoFDs makes the descriptors strata was started with beyond stdio close-on-exec, so no
// process strata starts gets them: a detached container's monitor would otherwise hold the
// caller's `9>lock` flock or the write end of `| cat` for the container's whole life (docker's
// and conmon's hold none). Files strata hands a child on purpose are dup'ed for it anyway.
func inheritNoFDs() {
	if unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	// Before Linux 5.11: one fcntl per open descriptor.
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
}
