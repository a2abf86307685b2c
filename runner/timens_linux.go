package runner

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

func init() {
	// "Calling LockOSThread from an init function will cause the main function to be invoked
	// on that thread" (runtime docs): the helpers that write timens_offsets run on the leader.
	if len(os.Args) > 0 && (os.Args[0] == initMarker || os.Args[0] == nsjoinMarker) {
		runtime.LockOSThread()
	}
}

// newTimeNamespace creates a time namespace for this process's next exec or children with the
// offsets in file (timens_offsets syntax). See TimeNamespace for why the main thread.
func newTimeNamespace(file string) error {
	if unix.Gettid() != unix.Getpid() {
		return errors.New("creating time namespace: not on the main thread, where timens_offsets applies")
	}
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return fmt.Errorf("creating time namespace: %w", err)
	}
	// One write per clock: the kernel takes the file's lines in one write, but names the
	// failing clock better this way.
	for _, l := range strings.SplitAfter(file, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if err := os.WriteFile("/proc/self/timens_offsets", []byte(l), 0); err != nil {
			return fmt.Errorf("setting time namespace offset %q: %w", strings.TrimSpace(l), err)
		}
	}
	return nil
}

// enterTimeNamespace is the init's step for Spec.Time: nothing when nil.
func enterTimeNamespace(t *TimeNamespace) error {
	if t == nil {
		return nil
	}
	return newTimeNamespace(t.offsetsFile())
}
