package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	stregistry "github.com/strata-run/strata/registry"
	"golang.org/x/sys/unix"
)

// TestSleeperArticle plays the headline: `run -d --name sleeper alpine sleep 10000`; from the
// host the sleep is a plain process, the child of strata's monitor, in namespaces of its own;
// `stop` ends it within its timeout and `rm` leaves nothing behind.
func TestSleeperArticle(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	mustStrata(t, root, "--registry-mirror", "http://"+reg.Host, "pull", "alpine")

	id := detached(t, root, "--name", "sleeper", "alpine", "sleep", "10000")
	pid := containerPid(t, root, "sleeper")
	if comm := readProc(t, pid, "comm"); comm != "sleep" {
		t.Errorf("/proc/%d/comm = %q, want sleep", pid, comm)
	}
	ppid := parentOf(t, pid)
	if cmdline := readProc(t, ppid, "cmdline"); !strings.Contains(cmdline, "strata") {
		t.Errorf("parent %d of the sleep runs %q, want strata's monitor", ppid, cmdline)
	}
	// ps on the host names it, as conmon and containerd-shim are named.
	if comm := readProc(t, ppid, "comm"); comm != "strata-monitor" {
		t.Errorf("/proc/%d/comm of the monitor = %q, want strata-monitor", ppid, comm)
	}
	for _, ns := range []string{"pid", "mnt", "net", "uts", "ipc", "cgroup"} {
		host, _ := os.Readlink("/proc/self/ns/" + ns)
		ctr, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if err != nil {
			t.Fatal(err)
		}
		if ctr == host {
			t.Errorf("the sleep's %s namespace %s is the host's", ns, ctr)
		}
	}
	ps := mustStrata(t, root, "ps")
	if !strings.Contains(ps.Stdout, "sleeper") || !strings.Contains(ps.Stdout, "Up ") {
		t.Errorf("ps = %q, want sleeper Up", ps.Stdout)
	}

	start := time.Now()
	mustStrata(t, root, "stop", "-t", "2", "sleeper")
	// sleep as PID 1 has no SIGTERM handler, so the kernel ignores SIGTERM: stop must kill.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stop -t 2 took %v", d)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("process %d still exists after stop", pid)
	}
	if code := strings.TrimSpace(mustStrata(t, root, "wait", "sleeper").Stdout); code != "137" {
		t.Errorf("wait after stop = %s, want 137 (SIGKILL)", code)
	}
	mustStrata(t, root, "rm", "sleeper")
	if m := mountsUnder(t, root); len(m) != 0 {
		t.Errorf("mounts left after rm: %v", m)
	}
	if _, err := os.Stat(filepath.Join(root, "containers", id)); !os.IsNotExist(err) {
		t.Errorf("container dir left after rm: %v", err)
	}
	left, _ := filepath.Glob("/sys/fs/cgroup/*/strata/" + id)
	v2, _ := filepath.Glob("/sys/fs/cgroup/strata/" + id)
	if left = append(left, v2...); len(left) != 0 {
		t.Errorf("cgroups left after rm: %v", left)
	}
}

// TestDetachedLogsAndRestart checks logs with timestamps and tail, start of an exited
// container, and kill with a signal.
func TestDetachedLogsAndRestart(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	mustStrata(t, root, "--registry-mirror", "http://"+reg.Host, "pull", "alpine")

	id := detached(t, root, "--name", "talker", "alpine", "sh", "-c", "echo one; echo two >&2; echo three")
	if code := strings.TrimSpace(mustStrata(t, root, "wait", id).Stdout); code != "0" {
		t.Fatalf("wait = %s, want 0", code)
	}
	logs := mustStrata(t, root, "logs", "talker")
	if logs.Stdout != "one\nthree\n" || logs.Stderr != "two\n" {
		t.Errorf("logs = %q / %q, want stdout one,three and stderr two", logs.Stdout, logs.Stderr)
	}
	if tail := mustStrata(t, root, "logs", "--tail", "1", "talker"); strings.Count(tail.Stdout+tail.Stderr, "\n") != 1 {
		t.Errorf("logs --tail 1 = %q %q, want one line", tail.Stdout, tail.Stderr)
	}
	ts := mustStrata(t, root, "logs", "-t", "talker")
	first := strings.Fields(ts.Stdout)
	if len(first) < 2 {
		t.Fatalf("logs -t = %q", ts.Stdout)
	}
	if _, err := time.Parse(time.RFC3339Nano, first[0]); err != nil {
		t.Errorf("logs -t line starts with %q, want an RFC 3339 time: %v", first[0], err)
	}

	mustStrata(t, root, "start", "talker")
	mustStrata(t, root, "wait", "talker")
	if again := mustStrata(t, root, "logs", "talker"); strings.Count(again.Stdout, "one") != 2 {
		t.Errorf("logs after a second start = %q, want both runs", again.Stdout)
	}

	// The signal goes only once the trap is set: PID 1 without a handler ignores USR1.
	detached(t, root, "--name", "trapper", "alpine", "sh", "-c", "trap 'exit 42' USR1; echo trapped; while true; do sleep 0.1; done")
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(mustStrata(t, root, "logs", "trapper").Stdout, "trapped"); {
		if time.Now().After(deadline) {
			t.Fatal("trapper never set its trap")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mustStrata(t, root, "kill", "-s", "USR1", "trapper")
	if code := strings.TrimSpace(mustStrata(t, root, "wait", "trapper").Stdout); code != "42" {
		t.Errorf("wait after kill -s USR1 = %s, want 42", code)
	}

	// --stop-signal is what stop sends first, and --stop-timeout how long it waits then (-t
	// overrides it), as docker's: this one ignores SIGTERM and exits 9 on SIGUSR2.
	detached(t, root, "--name", "stopper", "--stop-signal", "SIGUSR2", "--stop-timeout", "30", "alpine", "sh", "-c",
		"trap 'exit 9' USR2; trap '' TERM; echo trapped; while true; do sleep 0.1; done")
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(mustStrata(t, root, "logs", "stopper").Stdout, "trapped"); {
		if time.Now().After(deadline) {
			t.Fatal("stopper never set its trap")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cfg := mustStrata(t, root, "inspect", "--format", "{{.Config.StopSignal}} {{.Config.StopTimeout}}", "stopper").Stdout; strings.TrimSpace(cfg) != "SIGUSR2 30" {
		t.Errorf("inspect Config.StopSignal, StopTimeout = %q, want SIGUSR2 30", cfg)
	}
	began := time.Now()
	mustStrata(t, root, "stop", "stopper")
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("stop took %v: it did not send SIGUSR2", took)
	}
	if code := strings.TrimSpace(mustStrata(t, root, "inspect", "--format", "{{.State.ExitCode}}", "stopper").Stdout); code != "9" {
		t.Errorf("exit code after stop = %s, want 9 from the SIGUSR2 trap", code)
	}
}

// TestRunLimitsAndSecurity checks that limits are enforced and the default confinement holds.
func TestRunLimitsAndSecurity(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	mustStrata(t, root, "--registry-mirror", "http://"+reg.Host, "pull", "alpine")

	oom := strata(t, root, "run", "--name", "hog", "--memory", "32m", "--memory-swap", "32m", "alpine", "sh", "-c", "x=$(head -c 200m /dev/zero | tr '\\0' a); echo survived")
	if oom.Code != 137 {
		t.Errorf("a process over --memory exited %d, want 137 (stderr %q)", oom.Code, oom.Stderr)
	}
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.OOMKilled}}", "hog").Stdout); got != "true" {
		t.Errorf("inspect OOMKilled = %q, want true", got)
	}
	mustStrata(t, root, "rm", "hog")

	// A fork loop under --pids-limit 20: count the container's processes from the host.
	forker := detached(t, root, "--pids-limit", "20", "alpine", "sh", "-c",
		// The inner shell dies at the limit (ash exits when fork fails); its sleeps stay,
		// and PID 1 then becomes a sleep without forking.
		"sh -c 'for i in $(seq 60); do sleep 30 & done' 2>/dev/null; exec sleep 30")
	// The loop is over once PID 1 is the sleep.
	pid := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Pid}}", forker).Stdout)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if comm, _ := os.ReadFile("/proc/" + pid + "/comm"); string(comm) == "sleep\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fork loop's PID 1 (%s) is no sleep after 30 s", pid)
		}
	}
	if n := cgroupProcs(t, forker); n == 0 || n > 20 {
		t.Errorf("with --pids-limit 20 the container holds %d processes", n)
	}
	mustStrata(t, root, "rm", "-f", forker)

	for _, tc := range []struct{ name, script string }{
		{"mount", "mount -t tmpfs none /mnt"},
		{"mknod", "mknod /tmp/sda b 8 0"},
		{"kcore", "head -c 1 /proc/kcore | wc -c | grep -qx 1"},
	} {
		if r := strata(t, root, "run", "--rm", "alpine", "sh", "-c", tc.script); r.Code == 0 {
			t.Errorf("a default container could %s (stdout %q)", tc.name, r.Stdout)
		}
	}
	if r := strata(t, root, "run", "--rm", "--memory", "12x", "alpine", "true"); r.Code != 125 || !strings.Contains(r.Stderr, "12x") {
		t.Errorf("run --memory 12x = %d %q, want 125 naming the value", r.Code, r.Stderr)
	}
	if r := strata(t, root, "run", "--rm", "-u", "nosuchuser", "alpine", "true"); r.Code != 125 {
		t.Errorf("run -u nosuchuser = %d %q, want 125", r.Code, r.Stderr)
	}
	if r := strata(t, root, "run", "--rm", "--mount", "type=bind,source=/nonexistent-strata,target=/x", "alpine", "true"); r.Code != 125 {
		t.Errorf("run --mount with a missing source = %d %q, want 125", r.Code, r.Stderr)
	}
	if r := mustStrata(t, root, "run", "--rm", "-w", "/new/dir", "alpine", "pwd"); strings.TrimSpace(r.Stdout) != "/new/dir" {
		t.Errorf("run -w /new/dir pwd = %q, want the created dir", r.Stdout)
	}
}

// cgroupProcs counts the processes in a container's pids cgroup (v1, hybrid or v2).
func cgroupProcs(t *testing.T, id string) int {
	t.Helper()
	for _, p := range []string{"/sys/fs/cgroup/pids/strata/" + id, "/sys/fs/cgroup/strata/" + id} {
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err == nil {
			return len(strings.Fields(string(b)))
		}
	}
	t.Fatalf("no pids cgroup found for container %s", id)
	return 0
}

// TestInitReaperNamed checks the names ps shows for --init's reaper, the container's PID 1,
// and for the monitor above it: strata-reaper and strata-monitor, as docker's is docker-init.
func TestInitReaperNamed(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	mustStrata(t, root, "--registry-mirror", "http://"+reg.Host, "pull", "alpine")
	id := detached(t, root, "--init", "alpine", "sleep", "10000")
	defer mustStrata(t, root, "rm", "-f", id)
	pid := containerPid(t, root, id)
	// run -d returns once the init execs the reaper, which names itself as it starts.
	comm := readProc(t, pid, "comm")
	for deadline := time.Now().Add(30 * time.Second); comm != "strata-reaper" && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		comm = readProc(t, pid, "comm")
	}
	if comm != "strata-reaper" {
		t.Errorf("/proc/%d/comm of --init's PID 1 = %q, want strata-reaper", pid, comm)
	}
	if comm := readProc(t, parentOf(t, pid), "comm"); comm != "strata-monitor" {
		t.Errorf("/proc/%d/comm of the monitor = %q, want strata-monitor", parentOf(t, pid), comm)
	}
	top := mustStrata(t, root, "exec", id, "ps", "-o", "pid,comm")
	if !strings.Contains(top.Stdout, "strata-reaper") {
		t.Errorf("ps in the container = %q, want PID 1 named strata-reaper", top.Stdout)
	}
}

func readProc(t *testing.T, pid int, file string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

func parentOf(t *testing.T, pid int) int {
	t.Helper()
	stat := readProc(t, pid, "stat")
	// Fields after the command name, which ends at the last ')': state, ppid, ...
	rest := strings.Fields(stat[strings.LastIndex(stat, ")")+1:])
	ppid, err := strconv.Atoi(rest[1])
	if err != nil {
		t.Fatalf("parsing /proc/%d/stat: %v", pid, err)
	}
	return ppid
}

// TestCreateRestartRename plays docker's create, start, rename and restart, and stop and wait
// of a --rm container, through the CLI.
func TestCreateRestartRename(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	mustStrata(t, root, "--registry-mirror", "http://"+reg.Host, "pull", "alpine")

	id := strings.TrimSpace(mustStrata(t, root, "create", "--platform", stregistry.DefaultPlatform().String(), "--name", "made", "alpine", "sh", "-c", "echo ran; exec sleep 600").Stdout)
	if len(id) != 64 {
		t.Fatalf("create printed %q, want a container ID", id)
	}
	if st := mustStrata(t, root, "inspect", "--format", "{{.State.Status}}", "made").Stdout; strings.TrimSpace(st) != "created" {
		t.Errorf("status after create = %q, want created", st)
	}
	mustStrata(t, root, "start", "made")
	first := containerPid(t, root, "made")

	mustStrata(t, root, "rename", "made", "renamed")
	if r := strata(t, root, "inspect", "made"); r.Code == 0 {
		t.Error("the old name still finds the container after rename")
	}
	// {{.Id}} is docker's spelling (the JSON key); {{.ID}} the Go field's.
	for _, f := range []string{"{{.Id}}", "{{.ID}}"} {
		if got := strings.TrimSpace(mustStrata(t, root, "inspect", "--format", f, "renamed").Stdout); got != id {
			t.Errorf("inspect --format %s renamed = %q, want %s", f, got, id)
		}
	}
	if pid := containerPid(t, root, "renamed"); pid != first {
		t.Errorf("the rename restarted the container: pid %d, was %d", pid, first)
	}

	// The first run's line before the restart: start returns once sh runs, maybe before its
	// echo, and the restart's SIGKILL (-t 0) could end it with nothing logged.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(mustStrata(t, root, "logs", "renamed").Stdout, "ran"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first run never logged its line")
		}
	}
	if out := mustStrata(t, root, "restart", "-t", "0", "renamed").Stdout; strings.TrimSpace(out) != "renamed" {
		t.Errorf("restart printed %q, want the name", out)
	}
	if pid := containerPid(t, root, "renamed"); pid == first {
		t.Errorf("restart kept pid %d", pid)
	}
	for deadline := time.Now().Add(30 * time.Second); strings.Count(mustStrata(t, root, "logs", "renamed").Stdout, "ran") < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("logs after restart = %q, want both runs", mustStrata(t, root, "logs", "renamed").Stdout)
		}
	}
	mustStrata(t, root, "rm", "-f", "renamed")

	// A --rm container survives its restart and goes when it stops; stop and wait say so
	// without an error.
	rm := detached(t, root, "--rm", "--name", "gone", "alpine", "sleep", "600")
	mustStrata(t, root, "restart", "-t", "0", "gone")
	if st := strings.TrimSpace(mustStrata(t, root, "inspect", "--format", "{{.State.Status}}", "gone").Stdout); st != "running" {
		t.Errorf("--rm container after restart is %q, want running", st)
	}
	mustStrata(t, root, "stop", "-t", "0", "gone")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(root, "containers", rm)); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the --rm container was not removed after stop")
		}
	}
	// It exits once the wait waits (holds the container's waiters lock): exited before, on
	// a busy machine, it was removed before the wait looked ("no such container"), as a
	// docker wait that comes late finds it gone too.
	exits := detached(t, root, "--rm", "--name", "exits", "alpine", "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 7")
	var waitOut, waitErr strings.Builder
	wait := exec.Command(strataBin, "--root", root, "wait", "exits")
	wait.Stdout, wait.Stderr = &waitOut, &waitErr
	if err := wait.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wait.Process.Kill(); _ = wait.Wait() })
	waitFlocked(t, wait.Process.Pid, filepath.Join(root, "containers", exits, "waiters"))
	// -d: the container ends once /tmp/go is there, which can kill a touch not yet
	// exited (exec 137, as docker's exec dies with its container).
	mustStrata(t, root, "exec", "-d", "exits", "touch", "/tmp/go")
	if err := wait.Wait(); err != nil || strings.TrimSpace(waitOut.String()) != "7" {
		t.Errorf("wait of a --rm container = %v, %q (stderr %q); want 7", err, waitOut.String(), waitErr.String())
	}
}

// waitFlocked returns once process pid holds a flock on path (/proc/locks), failing after 30 s.
func waitFlocked(t *testing.T, pid int, path string) {
	t.Helper()
	waitLocksLine(t, pid, path, false)
}

// waitFlockBlocked returns once process pid waits for a flock on path that another holds
// (/proc/locks), failing after 30 s.
func waitFlockBlocked(t *testing.T, pid int, path string) {
	t.Helper()
	waitLocksLine(t, pid, path, true)
}

// waitLocksLine polls /proc/locks for a flock of process pid on path, held or, if blocked,
// waited for: "1: FLOCK  ADVISORY  READ 25591 fe:00:9989918 0 EOF", "1: -> FLOCK …".
func waitLocksLine(t *testing.T, pid int, path string, blocked bool) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(" %d %02x:%02x:%d ", pid, unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile("/proc/locks")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, " FLOCK ") && strings.Contains(l, want) && strings.Contains(l, ": -> ") == blocked {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d neither took nor waited for (blocked %v) a flock on %s in 30 s:\n%s", pid, blocked, path, b)
		}
	}
}
