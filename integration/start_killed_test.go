package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartAfterKilledStart: a start killed once it spawned the container's monitor leaves that
// monitor starting the container (holding the lock the start handed it). A start then must wait
// for it and succeed (the container runs, as docker's start of a running one does), or
// start the container itself if that start failed; it spawned a second monitor, which
// refused the container as running ("container is running", exit 1) while the first one
// brought it up a moment later. The first monitor is played here by a process whose command
// line names the container, as a detached monitor's does, recorded as its starter: it dies
// without starting anything, so the start must wait for it and then run the container.
func TestStartAfterKilledStart(t *testing.T) {
	requiresContainers(t)
	f := newConcFixture(t)
	root := newRoot(t)
	mustRun(t, f.env, "", root, "load", "-q", "-i", f.archive)
	marker := fmt.Sprintf("crash2-start-%d", os.Getpid())
	t.Cleanup(func() {
		for _, pid := range markedProcs(t, marker) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	id := strings.TrimSpace(mustRun(t, f.env, "", root, append([]string{"create", "--name", "kc", crash2Image}, marked(marker, 60)...)...).Stdout)
	dir := filepath.Join(root, "containers", id)
	fake := exec.Command("sleep", "60")
	fake.Args[0] = dir
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fake.Process.Kill()
		fake.Wait()
	})
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", fake.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	state := fmt.Sprintf(`{"status":"created","monitorPid":%d,"monitorStart":%s,"exitCode":0}`, fake.Process.Pid, fields[19])
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	p := f.start(t, root, "start", "kc")
	time.Sleep(300 * time.Millisecond)
	fake.Process.Kill()
	fake.Wait()
	if code := p.wait(t); code != 0 {
		t.Errorf("start k while a killed start's monitor was starting it: exit %d: %s", code, p.stderr.String())
	}
	if r := mustRun(t, f.env, "", root, "inspect", "-f", "{{.State.Running}}", "kc"); strings.TrimSpace(r.Stdout) != "true" {
		t.Errorf("container k running after the start: %s", r.Stdout)
	}
	mustRun(t, f.env, "", root, "rm", "-f", "kc")
	checkNothingLeft(t, root, marker, []string{id})
}
