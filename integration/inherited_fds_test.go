package integration

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestDetachedKeepsNoCallerFD: the descriptors strata is started with beyond stdio do not
// reach the monitor of a detached container. The caller passes the write end of a pipe as
// fd 9 (a shell's `9>&1` into `| cat`); once `run -d` has returned and the caller closed its
// own end, the pipe must read EOF at once, not when the container exits (docker's and conmon's
// monitors hold no descriptor of the caller).
func TestDetachedKeepsNoCallerFD(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "fdkeep") })
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := exec.Command(strataBin, "--root", root, "run", "-d", "--name", "fdkeep", "alpine", "sleep", "600")
	cmd.Env = append(os.Environ(), "STRATA_REGISTRY_MIRROR=")
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	cmd.ExtraFiles = []*os.File{null, null, null, null, null, null, pw} // fds 3-8, then 9
	out, err := cmd.CombinedOutput()
	pw.Close()
	if err != nil {
		t.Fatalf("run -d: %v: %s", err, out)
	}
	eof := make(chan error, 1)
	go func() {
		_, err := pr.Read(make([]byte, 1))
		eof <- err
	}()
	select {
	case <-eof:
	case <-time.After(5 * time.Second):
		t.Fatal("the pipe passed to `run -d` as fd 9 is still open 5 s after it returned: the container's monitor holds it")
	}
}
