package integration

import (
	"io"
	"testing"
	"time"
)

// TestAttachStdinOnce: the end of `strata attach`'s input closes the stdin of a container
// made StdinOnce (create -i: docker's Config.StdinOnce, -i with stdin attached), as docker's
// daemon closes it at the end of any attach's input for such a container: the cat ends, and
// the attach with it, with its status. It stayed open, and the attach waited for ever. A
// container made with run -d -i (StdinOnce false, as docker's run -d resets it) keeps it open.
func TestAttachStdinOnce(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "so-once", "so-kept") })

	mustStrata(t, root, "create", "-i", "--name", "so-once", "alpine", "cat")
	mustStrata(t, root, "run", "-di", "--name", "so-kept", "alpine", "cat")
	for name, want := range map[string]string{"so-once": "true\n", "so-kept": "false\n"} {
		if out := mustStrata(t, root, "inspect", "-f", "{{.Config.StdinOnce}}", name).Stdout; out != want {
			t.Errorf("inspect %s Config.StdinOnce = %q, want %q", name, out, want)
		}
	}
	mustStrata(t, root, "start", "so-once")

	a := startAttach(t, root, "so-once")
	_, _ = io.WriteString(a.stdin, "hi\n")
	a.next(a.out, "hi")
	a.stdin.Close()
	done := make(chan struct{})
	var code int
	var stderr string
	go func() { code, stderr = a.wait(); close(done) }()
	select {
	case <-done:
		if code != 0 || stderr != "" {
			t.Errorf("attach to a StdinOnce cat once its input ended = exit %d, stderr %q; want 0 and nothing", code, stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("attach to a StdinOnce cat still waits 20 s after its input ended: the container's stdin was left open")
	}
	if out := mustStrata(t, root, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "so-once").Stdout; out != "exited 0\n" {
		t.Errorf("so-once after its attach's input ended: %q, want exited 0", out)
	}

	k := startAttach(t, root, "so-kept")
	_, _ = io.WriteString(k.stdin, "there\n")
	k.next(k.out, "there")
	k.stdin.Close()
	time.Sleep(time.Second)
	running(t, root, "so-kept")
	mustStrata(t, root, "rm", "-f", "so-kept")
	if code, _ := k.wait(); code != 137 {
		t.Errorf("attach to a run -d -i cat, once removed = exit %d, want 137", code)
	}
}
