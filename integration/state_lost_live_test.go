package integration

import (
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

// TestStopLostStateOfLiveContainer damages or deletes the state.json of a running container,
// as a hand edit or a full disk may: strata then reads it as exited (its state is lost), while
// its monitor and command run on and hold its cgroup. start, stop, kill, restart, pause,
// unpause, exec, top, update and attach must not say they did their work (stop exited 0 and
// the command ran on; update recorded limits the running processes did not get) or that it
// is not running (kill, pause, unpause, exec, top, attach), nor fail on the missing file
// ("reading container … state: open …: no such file or directory") or on the cgroup (start:
// "cgroup already exists"), nor record over the lost state: they fail with one line that says
// what holds the container and how to end it; inspect, ps and logs work; and rm -f ends it.
func TestStopLostStateOfLiveContainer(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	for _, tt := range []struct {
		name  string
		state string
	}{
		{"garbage", "{\"status\": \"runn"},
		{"emptied", ""},
		{"deleted", deletedState},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := "lost-" + tt.name
			t.Cleanup(func() { strata(t, root, "rm", "-f", name) })
			mustStrata(t, root, "run", "-d", "--name", name, "alpine", "sleep", "1000")
			id := containerID(t, root, name)
			pid, err := strconv.Atoi(strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Pid}}", name).Stdout))
			if err != nil || pid <= 0 {
				t.Fatalf("inspect .State.Pid: %v", err)
			}
			started := startTime(t, pid)
			loseState(t, filepath.Join(root, "containers", id, "state.json"), tt.state)
			// start first: it recorded its failure over the lost state (exit 125), and the
			// others then took the container for one that had exited.
			for _, args := range [][]string{
				{"start", name}, {"stop", "-t", "1", name}, {"kill", name}, {"kill", "-s", "TERM", name}, {"restart", "-t", "1", name},
				{"pause", name}, {"unpause", name}, {"exec", name, "true"}, {"top", name}, {"update", "--memory", "64m", name}, {"attach", name},
			} {
				r := strata(t, root, args...)
				msg := strings.TrimSpace(r.Stderr)
				if r.Code != 1 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "its state is lost, but a live strata holds its cgroup: rm -f ends it") {
					t.Errorf("%s with its state lost: exit %d, stderr %q; want exit 1 and one line saying a live strata holds its cgroup", strings.Join(args, " "), r.Code, r.Stderr)
				}
				if !liveProcess(pid, started) {
					t.Fatalf("%s: the container's command (pid %d) ended: the test lost its subject", strings.Join(args, " "), pid)
				}
			}
			// stats reads the cgroup, which its processes are still in: one task, not the
			// nothing used of a stopped container.
			if r := strata(t, root, "stats", "--no-stream", "--format", "{{.PIDs}} {{.MemUsage}}", name); r.Code != 0 || !strings.HasPrefix(r.Stdout, "1 ") || strings.HasPrefix(r.Stdout, "1 0B ") {
				t.Errorf("stats with its state lost: exit %d, stdout %q, stderr %q; want its one task and memory used", r.Code, r.Stdout, r.Stderr)
			}
			// The readers work.
			for _, args := range [][]string{{"inspect", name}, {"ps", "-a"}, {"logs", name}} {
				if r := strata(t, root, args...); r.Code != 0 {
					t.Errorf("%s with its state lost: exit %d, stderr %q; want it to work", strings.Join(args, " "), r.Code, r.Stderr)
				}
				if !liveProcess(pid, started) {
					t.Fatalf("%s: the container's command (pid %d) ended", strings.Join(args, " "), pid)
				}
			}
			mustStrata(t, root, "rm", "-f", name)
			if liveProcess(pid, started) {
				t.Errorf("rm -f returned, the container's command (pid %d) still runs", pid)
			}
		})
	}
}

// deletedState, as the state of loseState, deletes state.json.
const deletedState = "\x00deleted"

// loseState replaces the state.json at path by state, or deletes it (deletedState).
func loseState(t *testing.T, path, state string) {
	t.Helper()
	var err error
	if state == deletedState {
		err = os.Remove(path)
	} else {
		err = os.WriteFile(path, []byte(state), 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// liveProcess reports whether pid is still the process that started at started (stat field
// 22) and is not a zombie.
func liveProcess(pid int, started uint64) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return false
	}
	n, err := strconv.ParseUint(f[19], 10, 64)
	return err == nil && n == started
}

// TestCopyLostState copies out of containers whose state.json is lost. A stopped one is
// copied from, as export and diff read it and ps lists it, where cp said "no such
// container". A running one is refused in one line: its cgroup is held, its writable layer
// mounted, and the copy mounted that layer a second time as a stopped container's, which
// overlayfs calls undefined behaviour ("upperdir is in-use ... by another mount").
func TestCopyLostState(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "cp-lost-stopped", "cp-lost-live") })
	statePath := func(name string) string {
		return filepath.Join(root, "containers", containerID(t, root, name), "state.json")
	}

	mustStrata(t, root, "create", "--name", "cp-lost-stopped", "alpine", "true")
	if err := os.Remove(statePath("cp-lost-stopped")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "alpine-release")
	if r := strata(t, root, "cp", "cp-lost-stopped:/etc/alpine-release", dst); r.Code != 0 {
		t.Errorf("cp out of a stopped container without state.json: exit %d, stderr %q; want 0", r.Code, r.Stderr)
	} else if b, err := os.ReadFile(dst); err != nil || !strings.HasPrefix(string(b), "3.") {
		t.Errorf("copied /etc/alpine-release = %q, %v; want alpine's version", b, err)
	}

	mustStrata(t, root, "run", "-d", "--name", "cp-lost-live", "alpine", "sleep", "1000")
	if err := os.WriteFile(statePath("cp-lost-live"), []byte("{["), 0o600); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(src, []byte("in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"cp", "cp-lost-live:/etc/hostname", filepath.Join(t.TempDir(), "h")},
		{"cp", src, "cp-lost-live:/tmp/"},
	} {
		r := strata(t, root, args...)
		if msg := strings.TrimSpace(r.Stderr); r.Code != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, "holds its cgroup") {
			t.Errorf("%s of a running container with its state lost: exit %d, stderr %q; want exit 1 and one line saying a live strata holds its cgroup", strings.Join(args, " "), r.Code, r.Stderr)
		}
	}
}

// TestWaitLostStateOfLiveContainer waits on running containers whose state.json is lost:
// `strata wait` printed 255 at once while the container ran on, where docker's wait returns
// at the exit. It waits now while a live strata holds the container's cgroup and prints the
// exit its monitor records (137 for a PID 1 SIGKILLed), or 255 once the monitor is gone
// without recording one.
func TestWaitLostStateOfLiveContainer(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	for _, tt := range []struct {
		name        string
		state       string
		killMonitor bool
		want        string
	}{
		{"deleted", deletedState, false, "137"},
		{"garbage", "{[", false, "137"},
		{"monitor-killed", deletedState, true, "255"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := "wait-lost-" + tt.name
			mustStrata(t, root, "run", "-d", "--name", name, "alpine", "sleep", "1000")
			id := containerID(t, root, name)
			pid, err := strconv.Atoi(strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Pid}}", name).Stdout))
			if err != nil || pid <= 0 {
				t.Fatalf("inspect .State.Pid: %v", err)
			}
			started := startTime(t, pid)
			t.Cleanup(func() {
				strata(t, root, "rm", "-f", name)
				if liveProcess(pid, started) {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			monitor := parentOf(t, pid)
			loseState(t, filepath.Join(root, "containers", id, "state.json"), tt.state)

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, strataBin, "--root", root, "wait", name)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// The wait holds the container dir as its waiter (a shared flock) for as long as
			// it waits: it is under way once it does, and must not have returned.
			for !holdsFlock(cmd.Process.Pid) {
				select {
				case <-done:
					t.Fatalf("wait returned while the container ran, its state lost: %q, stderr %q", stdout.String(), stderr.String())
				case <-ctx.Done():
					t.Fatal("wait neither held the container dir nor returned")
				case <-time.After(5 * time.Millisecond):
				}
			}
			victim := pid
			if tt.killMonitor {
				victim = monitor
			}
			if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			err = <-done
			if got := strings.TrimSpace(stdout.String()); err != nil || got != tt.want {
				t.Errorf("wait: %v, stdout %q, stderr %q; want %s", err, got, stderr.String(), tt.want)
			}
		})
	}
}

// holdsFlock reports whether process pid holds an flock (/proc/locks).
func holdsFlock(pid int) bool {
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[1] == "FLOCK" && f[4] == strconv.Itoa(pid) {
			return true
		}
	}
	return false
}

// TestLogsFollowLostStateOfLiveContainer follows the log of a running container whose
// state.json is lost: logs -f ended at once, where docker's follows until the container
// exits. It follows now while a live strata holds the container's cgroup: a line the
// container writes after (on a SIGUSR1 the test sends) shows, and the follow ends at the exit.
func TestLogsFollowLostStateOfLiveContainer(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	name := "logs-lost"
	mustStrata(t, root, "run", "-d", "--name", name, "alpine", "sh", "-c", `trap "echo after" USR1; echo ready; while :; do sleep 1 & wait $!; done`)
	pid, err := strconv.Atoi(strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Pid}}", name).Stdout))
	if err != nil || pid <= 0 {
		t.Fatalf("inspect .State.Pid: %v", err)
	}
	started := startTime(t, pid)
	t.Cleanup(func() {
		strata(t, root, "rm", "-f", name)
		if liveProcess(pid, started) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	loseState(t, filepath.Join(root, "containers", containerID(t, root, name), "state.json"), deletedState)
	f := startStrata(t, root, "logs", "-f", name)
	f.next(f.out, "ready")
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	f.next(f.out, "after")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code, stderr := f.wait(); code != 0 {
		t.Errorf("logs -f at the container's exit: exit %d, stderr %q; want 0", code, stderr)
	}
}
