package runner

import (
	"context"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestInitKilledAfterFilter: an init killed from outside (SIGKILL by another process) once it
// was sent its seccomp filter fails the start with the signal that killed it, not with a
// question about the seccomp profile: strata killed the init itself before it read how it
// ended, and blamed the profile ("does the profile refuse a call the start makes…").
func TestInitKilledAfterFilter(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	spec := testSpec(t, "true") // the default profile: the init gets a filter
	goAheadSent = func(pid int, send func() error) error {
		// Stopped before it reads the go-ahead, killed after it was sent: by another
		// process, as far as the start can tell.
		if err := unix.Kill(pid, unix.SIGSTOP); err != nil {
			t.Errorf("stopping the init: %v", err)
		}
		err := send()
		if kerr := unix.Kill(pid, unix.SIGKILL); kerr != nil {
			t.Errorf("killing the init: %v", kerr)
		}
		return err
	}
	t.Cleanup(func() { goAheadSent = func(pid int, send func() error) error { return send() } })
	_, err := Run(context.Background(), spec, Stdio{})
	if err == nil {
		t.Fatal("the start of a killed init succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "killed by signal 9 (SIGKILL)") || strings.Contains(msg, "profile") {
		t.Errorf("error %q, want it to say the init was killed by signal 9 and not blame the profile", msg)
	}
}
