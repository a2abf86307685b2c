package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestExecStrataKilled: a strata exec killed (SIGKILL) while its command runs leaves the
// command to run to its end and be reaped, as docker's shim goes on with an exec whose client
// died: its helper died with strata and the orphan went to the container's PID 1 (a sleep,
// which reaps nothing), where it stayed a zombie.
func TestExecStrataKilled(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	ref := reg.Host + "/library/busybox:1.38.0-musl"
	mustStrata(t, root, "pull", ref)
	detached(t, root, "--name", "kc", ref, "sleep", "1000")

	cmd := exec.Command(strataBin, "--root", root, "exec", "kc", "sh", "-c", "echo started > /tmp/started; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done > /tmp/done")
	cmd.Env = append(os.Environ(), "STRATA_REGISTRY_MIRROR=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor := func(script string) string {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if r := strata(t, root, "exec", "kc", "sh", "-c", script); r.Code == 0 && strings.TrimSpace(r.Stdout) != "" {
				return strings.TrimSpace(r.Stdout)
			}
		}
		return ""
	}
	if waitFor("cat /tmp/started 2>/dev/null") != "started" {
		t.Fatal("the exec'd command did not start")
	}
	// The command's host pid: the sh whose script this is, not a child it forked for sleep
	// and that has not exec'd yet (it has the same command line, and that sh as parent).
	script := func(pid string) bool {
		b, err := os.ReadFile("/proc/" + pid + "/cmdline")
		return err == nil && strings.Contains(string(b), "echo started > /tmp/started") && !strings.Contains(string(b), "--root")
	}
	var shPid int
	for _, d := range mustReadDir(t, "/proc") {
		if pid, err := strconv.Atoi(d); err == nil && script(d) && !script(ppidOf(d)) {
			shPid = pid
		}
	}
	if shPid == 0 {
		t.Fatal("the exec'd command is not among the host's processes")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	// Its parent stays its helper, which reaps it: orphaned, it went to whatever reaper the
	// kernel picked, the container's PID 1 among them.
	time.Sleep(200 * time.Millisecond)
	if parent := parentName(t, shPid); parent != "strata-nsjoin" {
		t.Errorf("the parent of the exec'd command once strata was killed is %q, want its helper strata-nsjoin", parent)
	}
	// It runs on, until told to end: with a sleep of a second instead, on a busy machine it
	// had ended before the test found its pid or killed strata.
	mustStrata(t, root, "exec", "kc", "touch", "/tmp/go")
	if waitFor("cat /tmp/done 2>/dev/null") != "done" {
		t.Fatal("the exec'd command did not run on once strata was killed")
	}
	zombies := "for p in /proc/[0-9]*; do grep -q '^State:.*Z' $p/status 2>/dev/null && echo zombie ${p#/proc/}; done; echo checked"
	var out string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if out = waitFor(zombies); out == "checked" {
			break
		}
	}
	if out != "checked" {
		t.Errorf("left in the container once its strata exec was killed:\n%s", out)
	}
}

func mustReadDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// parentName is argv[0] of pid's parent, "" when either is gone.
func parentName(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b)[i+1:])
	if len(f) < 2 {
		return ""
	}
	cmdline, err := os.ReadFile("/proc/" + f[1] + "/cmdline")
	if err != nil {
		return ""
	}
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	return argv0
}

// ppidOf is the parent pid of process pid, as /proc/pid/stat says, or "" if it is gone.
func ppidOf(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return ""
	}
	// Fields after the command name, which ends at the last ')': state, ppid, ...
	rest := strings.Fields(string(b[strings.LastIndex(string(b), ")")+1:]))
	if len(rest) < 2 {
		return ""
	}
	return rest[1]
}
