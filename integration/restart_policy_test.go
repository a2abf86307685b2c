package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitInspect polls `inspect -f format` of c until it prints want, failing after limit.
func waitInspect(t *testing.T, root, c, format, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := strings.TrimSpace(strata(t, root, "inspect", "-f", format, c).Stdout)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("inspect -f %q %s = %q after %v, want %q", format, c, got, limit, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRestarted polls container c until it has been restarted at least n times and its status
// is status ("" for any), failing after 30 s, and returns its RestartCount. A count of exactly
// n lasts one backoff (100 ms doubled n-1 times) and run, which the polls of a busy machine,
// each a strata inspect, could miss: a wait for it then failed with the count beyond.
func waitRestarted(t *testing.T, root, c string, n int, status string) int {
	t.Helper()
	var got string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got = strings.TrimSpace(strata(t, root, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", c).Stdout)
		st, count, _ := strings.Cut(got, " ")
		if k, err := strconv.Atoi(count); err == nil && k >= n && (status == "" || st == status) {
			return k
		}
		if time.Now().After(deadline) {
			t.Fatalf("inspect %s = %q after 30 s, want %q and at least %d restarts", c, got, status, n)
		}
	}
}

// monitorsOf lists the pids of the processes whose command line names container id: its
// monitors and nothing else of strata's (the container's own processes do not name it).
func monitorsOf(t *testing.T, id string) []int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(id)) && bytes.HasPrefix(b, []byte("strata-monitor")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitNoMonitor waits for the monitors of container id to have ended: only a monitor
// restarts a container (restart_linux.go), so none comes after that.
func waitNoMonitor(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(monitorsOf(t, id)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("monitors of %s still there after 30 s: %v", id[:12], monitorsOf(t, id))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkRemovedForGood fails if anything of container id outlives its rm: its dir, a cgroup, a
// monitor process, a mount.
func checkRemovedForGood(t *testing.T, root, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(monitorsOf(t, id)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if pids := monitorsOf(t, id); len(pids) > 0 {
		t.Errorf("monitor processes of %s left: %v", id[:12], pids)
	}
	if dirs := cgroupDirsOf(t, id); len(dirs) > 0 {
		t.Errorf("cgroups of %s left: %v", id[:12], dirs)
	}
	if _, err := os.Lstat(filepath.Join(root, "containers", id)); err == nil {
		t.Errorf("container dir of %s left", id[:12])
	}
	if m := mountsUnder(t, filepath.Join(root, "containers")); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
}

// TestRestartOnFailureMax: on-failure:2 restarts a container that exits 3 twice, as docker's
// restart manager, and then leaves it exited 3, its log holding the three runs' output.
func TestRestartOnFailureMax(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	id := strings.TrimSpace(mustStrata(t, root, "run", "-d", "--restart", "on-failure:2", img, "sh", "-c", "echo run; exit 3").Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
	waitInspect(t, root, id, "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", "exited 3 2", 30*time.Second)
	// Given up for good: no fourth run comes, once no monitor is left to start it.
	waitNoMonitor(t, id)
	got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Status}} {{.State.Restarting}} {{.RestartCount}} {{json .HostConfig.RestartPolicy}}", id).Stdout)
	if want := `exited false 2 {"Name":"on-failure","MaximumRetryCount":2}`; got != want {
		t.Errorf("inspect = %q, want %q", got, want)
	}
	if logs := mustStrata(t, root, "logs", id).Stdout; logs != "run\nrun\nrun\n" {
		t.Errorf("logs = %q, want the three runs' lines", logs)
	}
	// A start by hand begins the count again, as docker's.
	mustStrata(t, root, "start", id)
	waitInspect(t, root, id, "{{.State.Status}} {{.RestartCount}}", "exited 2", 30*time.Second)
	mustStrata(t, root, "rm", id)
	checkRemovedForGood(t, root, id)

	// Exit 0 is no failure.
	id = strings.TrimSpace(mustStrata(t, root, "run", "-d", "--restart", "on-failure", img, "true").Stdout)
	waitInspect(t, root, id, "{{.State.Status}} {{.State.ExitCode}}", "exited 0", 10*time.Second)
	waitNoMonitor(t, id)
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.RestartCount}}", id).Stdout); got != "0" {
		t.Errorf("on-failure restarted a container that exited 0: RestartCount %s", got)
	}
	mustStrata(t, root, "rm", id)
}

// TestRestartAlwaysStop: an always container whose process exits, or dies of a signal from
// outside strata, runs again; `stop` keeps it down, and rm leaves nothing (no dir, mount,
// cgroup or monitor). ps shows the backoff as docker's "Restarting (N) … ago".
func TestRestartAlwaysStop(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	id := strings.TrimSpace(mustStrata(t, root, "run", "-d", "--restart", "always", img, "sh", "-c", "sleep 0.2; exit 1").Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
	// Restarted over and over: the backoff doubles (0.1, 0.2, 0.4, 0.8 s, …), and is seen.
	sawRestarting := false
	deadline := time.Now().Add(15 * time.Second)
	for {
		ps := strings.TrimSpace(mustStrata(t, root, "ps", "--filter", "id="+id, "--format", "{{.State}}|{{.Status}}").Stdout)
		if strings.HasPrefix(ps, "restarting|Restarting (1) ") {
			sawRestarting = true
		}
		n, _ := strconv.Atoi(strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.RestartCount}}", id).Stdout))
		if n >= 4 && sawRestarting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15 s: RestartCount %d, saw restarting %v (ps %q)", n, sawRestarting, ps)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mustStrata(t, root, "stop", "-t", "1", id)
	st := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Status}} {{.State.Restarting}}", id).Stdout)
	if st != "exited false" {
		t.Errorf("after stop: %q, want exited false", st)
	}
	n := mustStrata(t, root, "inspect", "-f", "{{.RestartCount}}", id).Stdout
	waitNoMonitor(t, id) // and with them any backoff a restart could still have waited
	if got := mustStrata(t, root, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", id).Stdout; got != "exited "+n {
		t.Errorf("restarted after stop: %q, want exited %s", got, strings.TrimSpace(n))
	}
	mustStrata(t, root, "rm", id)
	checkRemovedForGood(t, root, id)

	// Killed from outside (not by strata): restarted, as docker restarts a container whose
	// process died; `kill` (SIGKILL) from strata then keeps it down.
	id = strings.TrimSpace(mustStrata(t, root, "run", "-d", "--restart", "always", img, "sleep", "600").Stdout)
	waitInspect(t, root, id, "{{.State.Status}}", "running", 30*time.Second)
	pid, _ := strconv.Atoi(strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Pid}}", id).Stdout))
	if pid <= 0 {
		t.Fatalf("no pid for %s", id)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitInspect(t, root, id, "{{.State.Status}} {{.RestartCount}}", "running 1", 30*time.Second)
	mustStrata(t, root, "kill", id)
	waitNoMonitor(t, id)
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", id).Stdout); got != "exited 1" {
		t.Errorf("after kill: %q, want exited 1 (docker's kill cancels the restart)", got)
	}
	mustStrata(t, root, "rm", id)
	checkRemovedForGood(t, root, id)
}

// TestRestartRmDuringBackoff: rm -f of a container that waits out its restart backoff removes
// it for good: no restart comes after, and nothing of it is left.
func TestRestartRmDuringBackoff(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	id := strings.TrimSpace(mustStrata(t, root, "create", "--restart", "unless-stopped", img, "false").Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
	mustStrata(t, root, "start", id)
	// Backoffs of 0.1, 0.2, 0.4, 0.8, 1.6 s: by the 5th it waits long enough to be caught.
	waitRestarted(t, root, id, 5, "restarting")
	// Not stopped, as docker counts a restarting container running: prune keeps it.
	mustStrata(t, root, "container", "prune", "-f")
	if r := strata(t, root, "inspect", id); r.Code != 0 {
		t.Fatalf("container prune removed a restarting container: %s", r.Stderr)
	}
	if r := strata(t, root, "rm", id); r.Code == 0 || !strings.Contains(r.Stderr, "restarting") {
		t.Errorf("plain rm of a restarting container: exit %d, %q; want refused as restarting", r.Code, r.Stderr)
	}
	mustStrata(t, root, "rm", "-f", id)
	checkRemovedForGood(t, root, id) // its monitors are gone: no restart comes after
	if out := mustStrata(t, root, "ps", "-aq").Stdout; out != "" {
		t.Errorf("ps -a after rm -f: %q", out)
	}
	checkRemovedForGood(t, root, id)

	// rm -f of one that runs, with a restart policy: gone, not restarted.
	id = strings.TrimSpace(mustStrata(t, root, "run", "-d", "--restart", "always", img, "sleep", "600").Stdout)
	waitInspect(t, root, id, "{{.State.Status}}", "running", 30*time.Second)
	mustStrata(t, root, "rm", "-f", id)
	checkRemovedForGood(t, root, id)
}

// TestRunSigProxyFalse: with --sig-proxy=false a SIGTERM to the foreground strata does not
// reach the container, which runs to its own end; with the default it does.
func TestRunSigProxyFalse(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	script := `trap "echo TERM; exit 7" TERM; sleep 1 & wait; echo done`
	for i, tc := range []struct {
		flag, out string
		code      int
	}{
		{"--sig-proxy=false", "done\n", 0},
		{"--sig-proxy=true", "TERM\n", 7},
	} {
		var out bytes.Buffer
		name := fmt.Sprintf("sigproxy%d", i)
		cmd := exec.Command(strataBin, "--root", root, "run", "--rm", "--name", name, tc.flag, img, "sh", "-c", script)
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Signalled once the trap is set: a sleep was too short on a busy machine.
		waitCaught(t, root, name, syscall.SIGTERM)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != tc.code || out.String() != tc.out {
			t.Errorf("%s, SIGTERM to strata: exit %d, output %q; want %d, %q", tc.flag, code, out.String(), tc.code, tc.out)
		}
	}
}

// TestRunAttachStreams: -a stdout attaches stdout only (stderr is not shown, but logged when
// the container is kept), -a stderr the other way round; inspect says which were attached.
func TestRunAttachStreams(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	r := mustStrata(t, root, "run", "--rm", "-a", "stdout", img, "sh", "-c", "echo out; echo err >&2")
	if r.Stdout != "out\n" || r.Stderr != "" {
		t.Errorf("-a stdout: stdout %q, stderr %q; want out and nothing", r.Stdout, r.Stderr)
	}
	r = mustStrata(t, root, "run", "--name", "att", "-a", "STDERR", img, "sh", "-c", "echo out; echo err >&2")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "att") })
	if r.Stdout != "" || r.Stderr != "err\n" {
		t.Errorf("-a STDERR: stdout %q, stderr %q; want nothing and err", r.Stdout, r.Stderr)
	}
	if l := mustStrata(t, root, "logs", "att"); l.Stdout != "out\n" || l.Stderr != "err\n" {
		t.Errorf("logs of the -a stderr container: stdout %q, stderr %q; want both streams", l.Stdout, l.Stderr)
	}
	got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}", "att").Stdout)
	if got != "false false true" {
		t.Errorf("inspect Attach* = %q, want false false true", got)
	}
}

// TestUpdateRestart: docker update --restart gives a running container a policy its monitor
// applies when the container next exits, and takes one away; a --rm container's is refused
// in docker's words, and a bad policy exits 125.
func TestUpdateRestart(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "ur-on", "ur-off", "ur-rm") })
	// Each run waits for /tmp/go, which stays in its writable layer: the restarted run exits
	// at once.
	script := `while [ ! -f /tmp/go ]; do sleep 0.05; done; exit 3`
	mustStrata(t, root, "run", "-d", "--name", "ur-on", "alpine", "sh", "-c", script)
	if r := mustStrata(t, root, "update", "--restart", "on-failure:1", "ur-on"); r.Stdout != "ur-on\n" {
		t.Errorf("update --restart printed %q, want the container's name", r.Stdout)
	}
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{json .HostConfig.RestartPolicy}}", "ur-on").Stdout); got != `{"Name":"on-failure","MaximumRetryCount":1}` {
		t.Errorf("RestartPolicy after update = %s", got)
	}
	// -d: the container ends once /tmp/go is there, which can kill a touch not yet
	// exited (exec 137, as docker's exec dies with its container).
	mustStrata(t, root, "exec", "-d", "ur-on", "touch", "/tmp/go")
	waitInspect(t, root, "ur-on", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", "exited 3 1", 15*time.Second)

	mustStrata(t, root, "run", "-d", "--restart", "always", "--name", "ur-off", "alpine", "sh", "-c", script)
	mustStrata(t, root, "update", "--restart", "no", "ur-off")
	// -d: the container ends once /tmp/go is there, which can kill a touch not yet
	// exited (exec 137, as docker's exec dies with its container).
	mustStrata(t, root, "exec", "-d", "ur-off", "touch", "/tmp/go")
	waitInspect(t, root, "ur-off", "{{.State.Status}} {{.State.ExitCode}}", "exited 3", 15*time.Second)
	waitNoMonitor(t, strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.Id}}", "ur-off").Stdout))
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "ur-off").Stdout); got != "exited 0" {
		t.Errorf("a container updated to --restart no: %s, want exited and no restart", got)
	}

	mustStrata(t, root, "run", "-d", "--rm", "--name", "ur-rm", "alpine", "sleep", "600")
	r := strata(t, root, "update", "--restart", "always", "ur-rm")
	if r.Code != 1 {
		t.Errorf("update --restart always of a --rm container = exit %d, want 1", r.Code)
	}
	assertOneLineError(t, r.Stderr, "restart policy cannot be updated because AutoRemove is enabled for the container")
	r = strata(t, root, "update", "--restart", "sometimes", "ur-rm")
	if r.Code != 125 {
		t.Errorf("update --restart sometimes = exit %d, want 125", r.Code)
	}
	assertOneLineError(t, r.Stderr, "unknown policy")
}
