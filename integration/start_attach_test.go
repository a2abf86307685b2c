package integration

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartAttach plays docker start -a: the container's output of this start only, each line
// on its stream, then its exit status as strata's; the signals strata gets go to the container;
// a --rm container is attached to the end and then removed; -a and -i take one container.
func TestStartAttach(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	names := []string{"sa-out", "sa-rm", "sa-trap"}
	t.Cleanup(func() { strata(t, root, append([]string{"rm", "-f"}, names...)...) })

	mustStrata(t, root, "create", "--name", "sa-out", "alpine", "sh", "-c", "echo out; echo err >&2; exit 7")
	for i := 0; i < 2; i++ {
		// The second start prints its own output, not the first one's again.
		r := strata(t, root, "start", "-a", "sa-out")
		if r.Code != 7 || r.Stdout != "out\n" || r.Stderr != "err\n" {
			t.Errorf("start -a sa-out (#%d) = exit %d, stdout %q, stderr %q; want 7, out, err", i+1, r.Code, r.Stdout, r.Stderr)
		}
	}

	mustStrata(t, root, "create", "--rm", "--name", "sa-rm", "alpine", "echo", "removed after")
	if r := strata(t, root, "start", "-a", "sa-rm"); r.Code != 0 || r.Stdout != "removed after\n" {
		t.Errorf("start -a of a --rm container = exit %d, stdout %q, stderr %q; want 0 and its line", r.Code, r.Stdout, r.Stderr)
	}
	if out := mustStrata(t, root, "ps", "-a", "-q", "--filter", "name=sa-rm").Stdout; out != "" {
		t.Errorf("the --rm container is still listed after start -a: %q", out)
	}

	r := strata(t, root, "start", "-a", "sa-out", "sa-out")
	if r.Code != 1 {
		t.Errorf("start -a of two containers = exit %d, want 1", r.Code)
	}
	assertOneLineError(t, r.Stderr, "you cannot start and attach multiple containers at once")
	r = strata(t, root, "start", "-i", "sa-out", "sa-out")
	if r.Code != 1 {
		t.Errorf("start -i of two containers = exit %d, want 1", r.Code)
	}
	assertOneLineError(t, r.Stderr, "you cannot start and attach multiple containers at once")
	r = strata(t, root, "start", "-a", "nosuch")
	if r.Code != 1 {
		t.Errorf("start -a nosuch = exit %d, want 1", r.Code)
	}
	assertOneLineError(t, r.Stderr, "nosuch: no such container")

	// SIGINT to strata reaches the container, which decides: this one exits 3.
	mustStrata(t, root, "create", "--name", "sa-trap", "alpine", "sh", "-c",
		`trap "echo got INT; exit 3" INT; echo ready; while true; do sleep 0.1; done`)
	cmd := exec.Command(strataBin, "--root", root, "start", "-a", "sa-trap")
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(mustStrata(t, root, "logs", "sa-trap").Stdout, "ready"); {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("sa-trap never said ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("start -a did not end after SIGINT reached the container")
	}
	if code := cmd.ProcessState.ExitCode(); code != 3 || out.String() != "ready\ngot INT\n" {
		t.Errorf("start -a sa-trap after SIGINT = exit %d, stdout %q; want 3 and the trap's line", code, out.String())
	}
}
