package runner

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sealedOpen reports whether the protected binary's fd is open, waiting a little for a close
// that runs in the background.
func sealedOpen(fd int, want bool) bool {
	for deadline := time.Now().Add(2 * time.Second); ; {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		open := err == nil
		if open == want || time.Now().After(deadline) {
			return open
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSealedExeDropWaitsForStarts: dropSealedExe closes the protected binary only once no
// start holds it (a child between fork and exec still needs /proc/self/fd/N), and a later
// start makes it again.
func TestSealedExeDropWaitsForStarts(t *testing.T) {
	dropSealedExe()
	path, release, err := sealedExe()
	if err != nil {
		t.Fatal(err)
	}
	sealedMu.Lock()
	fd := sealedFD
	sealedMu.Unlock()
	if path == "" || fd < 0 {
		t.Fatalf("sealedExe = %q with fd %d", path, fd)
	}
	dropSealedExe()
	if !sealedOpen(fd, true) {
		t.Fatal("dropSealedExe closed the binary while a start held it")
	}
	release()
	release() // a second call is a no-op
	if sealedOpen(fd, false) {
		t.Error("the last release after a drop left the binary open")
	}
	path2, release2, err := sealedExe()
	if err != nil {
		t.Fatal(err)
	}
	defer release2()
	if path2 == "" {
		t.Error("sealedExe after a drop gave no path")
	}
	if err := unix.Access(path2, unix.X_OK); err != nil {
		t.Errorf("the binary made again after a drop: %v", err)
	}
}

// TestRunDropsSealedExe: a foreground run closes the protected binary once the init has
// exec'd the command, so dissolving its detached mount (an RCU grace period) happens while
// the container runs, not at strata's exit.
func TestRunDropsSealedExe(t *testing.T) {
	code, _, stderr, err := runOut(t, testSpec(t, "true"))
	if err != nil || code != 0 {
		t.Fatalf("Run(true) = %d, %v; stderr: %s", code, err, stderr)
	}
	sealedMu.Lock()
	fd, holds := sealedFD, sealedHolds
	sealedMu.Unlock()
	if fd >= 0 || holds != 0 {
		t.Errorf("after Run the protected binary is still open (fd %d, %d holds)", fd, holds)
	}
}
