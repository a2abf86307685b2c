package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOrphanSweepFromOtherPidns: a strata in another pid namespace sharing the store (strata
// run in a container with the store mounted) sees no process of the recorded monitor's pid,
// or another one. Its ps must not take a running --rm container for an orphan and kill and
// remove it; it still removes the container of a run killed before its start.
func TestOrphanSweepFromOtherPidns(t *testing.T) {
	requiresContainers(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1)")
	}
	f := newConcFixture(t)
	root := newRoot(t)
	mustRun(t, f.env, "", root, "pull", "-q", f.a)
	marker := fmt.Sprintf("orphan-pidns-%d", os.Getpid())
	t.Cleanup(func() {
		for _, pid := range markedProcs(t, marker) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	mustRun(t, f.env, "", root, append([]string{"run", "-d", "--rm", "--name", "live-d", f.a}, marked(marker, 60)...)...)
	liveD := containerByName(root, "live-d")
	fg := f.start(t, root, append([]string{"run", "--rm", "--name", "live-fg", f.a}, marked(marker, 60)...)...)
	t.Cleanup(func() { mustRun(t, f.env, "", root, "rm", "-f", "live-fg"); fg.wait(t) })
	// The marker is in the argv of each container's shell, and of the foreground strata run
	// and its children until they exec: the shells are the containers'.
	for i := 0; len(markedShells(t, marker)) < 2; i++ {
		if i == 500 {
			t.Fatalf("the live containers never ran: %s", fg.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	liveFg := containerByName(root, "live-fg")
	killed := f.stopAt(t, root, "created", "run", "--rm", "--name", "killed", f.a, "true")
	killedID := containerByName(root, "killed")
	killed.kill(t)
	waitCgroupIdle(t, killedID)

	inPidns := func(args ...string) (string, string, error) {
		cmd := exec.Command("unshare", append([]string{"--pid", "--fork", "--mount-proc", strataBin, "--root", root}, args...)...)
		cmd.Env = f.env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	stdout, stderr, err := inPidns("ps", "-a", "--format", "{{.Names}}")
	if err != nil {
		t.Fatalf("ps in another pid namespace: %v: %s", err, stderr)
	}
	names := strings.Fields(stdout)
	for _, want := range []string{"live-d", "live-fg"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("ps in another pid namespace lists %q, want %s in it", names, want)
		}
	}
	for _, id := range []string{liveD, liveFg} {
		if _, err := os.Lstat(filepath.Join(root, "containers", id)); err != nil {
			t.Errorf("ps in another pid namespace removed the running container %.12s: %v", id, err)
		}
	}
	if n := len(markedShells(t, marker)); n != 2 {
		t.Errorf("after ps in another pid namespace %d marked shells run, want the 2 containers'", n)
	}
	// A plain rm there refuses a running container (its state reads as exited there, its
	// monitor being invisible), as it does here.
	if _, stderr, err := inPidns("rm", "live-d"); err == nil || !strings.Contains(stderr, "running") {
		t.Errorf("rm of a running container in another pid namespace: %v: %q, want it refused as running", err, stderr)
	}
	if _, err := os.Lstat(filepath.Join(root, "containers", liveD)); err != nil {
		t.Errorf("rm in another pid namespace removed the running container %.12s: %v", liveD, err)
	}
	if n := len(markedShells(t, marker)); n != 2 {
		t.Errorf("after rm in another pid namespace %d marked shells run, want 2", n)
	}
	if _, err := os.Lstat(filepath.Join(root, "containers", killedID)); err == nil {
		t.Errorf("ps in another pid namespace left the container %.12s of a killed run --rm", killedID)
	}
	mustRun(t, f.env, "", root, "rm", "-f", "live-d")
}
