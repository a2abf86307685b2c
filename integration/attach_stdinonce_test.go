package integration

import (
	"fmt"
	"io"
	"os"
	"strings"
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

	// w, attached with its stdin open, tells whether the container's stdin still is.
	w := startAttach(t, root, "so-kept")
	_, _ = io.WriteString(w.stdin, "from w\n")
	w.next(w.out, "from w")
	k := startAttach(t, root, "so-kept")
	_, _ = io.WriteString(k.stdin, "there\n")
	k.next(k.out, "there")
	id := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.Id}}", "so-kept").Stdout)
	mons := monitorsOf(t, id)
	if len(mons) != 1 {
		t.Fatalf("monitors of so-kept: %v, want one", mons)
	}
	with := socketsOf(t, mons[0])
	k.stdin.Close()
	// Once the monitor has let k go (its connection closed), it has done what the end of
	// k's input does to the container's stdin: w's input still reaches cat.
	for deadline := time.Now().Add(20 * time.Second); socketsOf(t, mons[0]) >= with; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("so-kept's monitor still holds %d sockets 20 s after k's input ended, as many as with k", with)
		}
	}
	_, _ = io.WriteString(w.stdin, "again\n")
	w.next(w.out, "again")
	running(t, root, "so-kept")
	mustStrata(t, root, "rm", "-f", "so-kept")
	if code, _ := k.wait(); code != 137 {
		t.Errorf("attach to a run -d -i cat, once removed = exit %d, want 137", code)
	}
}

// socketsOf counts the sockets process pid holds.
func socketsOf(t *testing.T, pid int) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}
