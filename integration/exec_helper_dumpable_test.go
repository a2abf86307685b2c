package integration

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestExecHelperNotDumpable: exec -u's helper stays non-dumpable once its thread takes the
// command's uid. The kernel resets a process's dumpable flag to fs.suid_dumpable when a
// thread's uid changes; where that is 1, the helper (root, its other threads holding every
// capability) could be ptraced by any host process of the command's uid and gid for as long
// as the command ran: PTRACE_SEIZE of it as uid 1000 succeeded during `exec -u 1000:1000`.
// A non-dumpable process's /proc/<pid>/fd and the like belong to root, a dumpable one's to its
// uid (the /proc/<pid> dirs themselves always to its uid).
func TestExecHelperNotDumpable(t *testing.T) {
	requiresContainers(t)
	const knob = "/proc/sys/fs/suid_dumpable"
	old, err := os.ReadFile(knob)
	if err != nil {
		t.Skipf("reading %s: %v", knob, err)
	}
	root := busyboxRoot(t)
	detached(t, root, "--name", "dump", "busybox:1.38.0-musl", "sleep", "1000")

	restore := func() { _ = os.WriteFile(knob, old, 0) }
	t.Cleanup(restore)
	if err := os.WriteFile(knob, []byte("1"), 0); err != nil {
		t.Skipf("setting %s: %v", knob, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin, "--root", root, "exec", "-u", "1000:1000", "dump", "sh", "-c", "echo ready; sleep 60")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		restore()
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	restore() // the flag was set when the helper's uid changed, before the command ran
	if err != nil || line != "ready\n" {
		t.Fatalf("exec printed %q, %v, want ready", line, err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // passed on to the command
		_ = cmd.Wait()
	}()

	helper := childOf(t, cmd.Process.Pid)
	fds, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(helper), "task", "*", "fd"))
	if err != nil || len(fds) == 0 {
		t.Fatalf("listing the helper's threads: %v, %v", fds, err)
	}
	for _, dir := range append(fds, filepath.Join("/proc", strconv.Itoa(helper), "environ")) {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 0 {
			t.Errorf("%s belongs to uid %d: the helper is dumpable, and a host process of that uid may ptrace it", dir, uid)
		}
	}
}

// childOf returns the pid of the one child of pid.
func childOf(t *testing.T, pid int) int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			child, err := strconv.Atoi(filepath.Base(filepath.Dir(s)))
			if err == nil {
				return child
			}
		}
	}
	t.Fatalf("no child of %d", pid)
	return 0
}
