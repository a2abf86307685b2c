package integration

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPause plays docker pause and unpause: a paused container's processes stop (a counter
// it writes stands still), ps shows it "Up … (Paused)" with state paused (status=paused
// filters it, status=running does not), inspect says Paused, exec and start are refused as
// docker refuses them, and unpause lets it go on. kill, stop and rm -f end a paused container
// as they end a running one (a frozen process dies of SIGKILL once thawed, as runc thaws it),
// leaving no cgroup. pause of a container that does not run, and unpause of one that is not
// paused, fail with exit 1.
func TestPause(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	counter := `i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done`
	id := strings.TrimSpace(mustStrata(t, root, "run", "-d", "--name", "pz", img, "sh", "-c", counter).Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "pz", "pz-created") })
	read := func() string {
		t.Helper()
		return strings.TrimSpace(mustStrata(t, root, "exec", "pz", "cat", "/tmp/n").Stdout)
	}
	// The counter's first write: a sleep of 200 ms was too short on a busy machine, and
	// cat found no /tmp/n.
	waitFor30(t, func() bool { return strata(t, root, "exec", "pz", "test", "-s", "/tmp/n").Code == 0 })
	read()

	if r := mustStrata(t, root, "pause", "pz"); r.Stdout != "pz\n" {
		t.Errorf("pause pz printed %q, want the name", r.Stdout)
	}
	if out := mustStrata(t, root, "ps", "--format", "{{.Names}}|{{.State}}|{{.Status}}").Stdout; !strings.HasPrefix(out, "pz|paused|Up ") || !strings.HasSuffix(out, " (Paused)\n") {
		t.Errorf("ps of a paused container = %q, want state paused and status Up … (Paused)", out)
	}
	if out := mustStrata(t, root, "ps", "-q", "--filter", "status=paused").Stdout; out != id[:12]+"\n" {
		t.Errorf("ps -q --filter status=paused = %q, want %s", out, id[:12])
	}
	if out := mustStrata(t, root, "ps", "-q", "--filter", "status=running").Stdout; out != "" {
		t.Errorf("ps -q --filter status=running = %q, want nothing while paused", out)
	}
	if out := mustStrata(t, root, "inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}", "pz").Stdout; out != "paused true true\n" {
		t.Errorf("inspect State of a paused container = %q, want paused true true", out)
	}
	// system df -v's STATUS is ps's State (it said running).
	if out := mustStrata(t, root, "system", "df", "-v").Stdout; !regexp.MustCompile(`(?m)^` + id[:12] + ` .* paused +pz$`).MatchString(out) {
		t.Errorf("system df -v of a paused container:\n%s\nwant its row with status paused", out)
	}
	// Frozen: what it wrote last stays, read from the host through its root.
	pid := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Pid}}", "pz").Stdout)
	file := "/proc/" + pid + "/root/tmp/n"
	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Errorf("the paused container went on counting: %q then %q", before, after)
	}
	if r := strata(t, root, "exec", "pz", "true"); r.Code != 1 || !strings.Contains(r.Stderr, "unpause the container before exec") {
		t.Errorf("exec into a paused container: exit %d, stderr %q; want docker's 1 and unpause advice", r.Code, r.Stderr)
	}
	if r := strata(t, root, "start", "pz"); r.Code != 1 || !strings.Contains(r.Stderr, "cannot start a paused container") {
		t.Errorf("start of a paused container: exit %d, stderr %q; want 1, cannot start a paused container", r.Code, r.Stderr)
	}
	if r := strata(t, root, "pause", "pz"); r.Code != 1 || !strings.Contains(r.Stderr, "is already paused") {
		t.Errorf("pause of a paused container: exit %d, stderr %q; want 1, already paused", r.Code, r.Stderr)
	}

	mustStrata(t, root, "unpause", "pz")
	if out := mustStrata(t, root, "inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "pz").Stdout; out != "running false\n" {
		t.Errorf("inspect after unpause = %q, want running false", out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for read() == strings.TrimSpace(string(before)) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if now := read(); now == strings.TrimSpace(string(before)) {
		t.Errorf("the unpaused container does not count on: still %s", now)
	}
	if r := strata(t, root, "unpause", "pz"); r.Code != 1 || !strings.Contains(r.Stderr, "is not paused") {
		t.Errorf("unpause of a running container: exit %d, stderr %q; want 1, not paused", r.Code, r.Stderr)
	}

	// Ended while paused: kill, then stop (SIGTERM thaws it, and the shell, PID 1 without a
	// trap, ignores it: SIGKILL after the timeout), then rm -f; each leaves no cgroup.
	for _, end := range [][]string{{"kill", "pz"}, {"stop", "-t", "1", "pz"}, {"rm", "-f", "pz"}} {
		if end[0] != "kill" {
			mustStrata(t, root, "start", "pz")
		}
		id := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.Id}}", "pz").Stdout)
		mustStrata(t, root, "pause", "pz")
		done := make(chan result, 1)
		go func() { done <- strata(t, root, end...) }()
		select {
		case r := <-done:
			if r.Code != 0 {
				t.Fatalf("%s of a paused container: exit %d, stderr %q", end, r.Code, r.Stderr)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s of a paused container did not return", end)
		}
		if end[0] != "rm" {
			if r := mustStrata(t, root, "wait", "pz"); r.Stdout != "137\n" {
				t.Errorf("%s of a paused container: exit status %q, want 137", end, r.Stdout)
			}
		}
		// The monitor removes it as it records the exit, maybe after the command returned.
		for deadline := time.Now().Add(30 * time.Second); len(cgroupDirsOf(t, id)) > 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("%s of a paused container left its cgroup: %s", end, cgroupDirsOf(t, id))
				break
			}
		}
	}

	mustStrata(t, root, "create", "--name", "pz-created", img, "true")
	for _, cmd := range []string{"pause", "unpause"} {
		if r := strata(t, root, cmd, "pz-created"); r.Code != 1 || !strings.Contains(r.Stderr, "not running") {
			t.Errorf("%s of a created container: exit %d, stderr %q; want 1, not running", cmd, r.Code, r.Stderr)
		}
		if r := strata(t, root, cmd, "nosuch"); r.Code != 1 || !strings.Contains(r.Stderr, "no such container") {
			t.Errorf("%s nosuch: exit %d, stderr %q; want 1, no such container", cmd, r.Code, r.Stderr)
		}
	}
}

// TestPauseStopSignal plays what docker does to a paused container that is signalled: its
// kill resumes it after sending its stop signal (any signal when it names none, and SIGKILL),
// so a stop of a paused container that traps SIGTERM ends with the trap's exit code at once
// instead of waiting out the timeout for a SIGKILL, and a kill -s TERM is acted on; a kill
// with another signal than a container's --stop-signal leaves it paused. A plain rm of a
// paused container is refused in docker's words (exit 1), and it stays paused.
func TestPauseStopSignal(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	trap := `trap "exit 3" TERM; while true; do sleep 0.1; done`
	mustStrata(t, root, "run", "-d", "--name", "pt", img, "sh", "-c", trap)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "pt", "pt-sig") })
	waitCaught(t, root, "pt", syscall.SIGTERM)
	mustStrata(t, root, "pause", "pt")
	if r := strata(t, root, "rm", "pt"); r.Code != 1 || r.Stderr != "strata: cannot remove container \"pt\": container is paused and must be unpaused first\n" {
		t.Errorf("rm of a paused container: exit %d, stderr %q; want 1 and docker's unpause first", r.Code, r.Stderr)
	}
	if out := mustStrata(t, root, "inspect", "-f", "{{.State.Status}}", "pt").Stdout; out != "paused\n" {
		t.Errorf("after a refused rm the container is %q, want paused", out)
	}
	within := func(what string, d time.Duration, args ...string) result {
		t.Helper()
		done := make(chan result, 1)
		go func() { done <- strata(t, root, args...) }()
		select {
		case r := <-done:
			return r
		case <-time.After(d):
			t.Fatalf("%s of a paused container took over %s", what, d)
		}
		return result{}
	}
	start := time.Now()
	if r := within("stop -t 60", 30*time.Second, "stop", "-t", "60", "pt"); r.Code != 0 {
		t.Fatalf("stop of a paused container: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if out := mustStrata(t, root, "inspect", "-f", "{{.State.ExitCode}}", "pt").Stdout; out != "3\n" {
		t.Errorf("stop of a paused container that traps SIGTERM: exit code %q after %s, want 3 (the trap's)", out, time.Since(start))
	}

	mustStrata(t, root, "start", "pt")
	waitCaught(t, root, "pt", syscall.SIGTERM)
	mustStrata(t, root, "pause", "pt")
	mustStrata(t, root, "kill", "-s", "TERM", "pt")
	if r := within("wait after kill -s TERM", 30*time.Second, "wait", "pt"); r.Stdout != "3\n" {
		t.Errorf("wait after kill -s TERM of a paused container: %q, stderr %q; want 3", r.Stdout, r.Stderr)
	}

	// Another signal than its stop signal leaves it paused, as docker's kill does.
	mustStrata(t, root, "run", "-d", "--name", "pt-sig", "--stop-signal", "USR1", img, "sleep", "1000")
	mustStrata(t, root, "pause", "pt-sig")
	mustStrata(t, root, "kill", "-s", "HUP", "pt-sig")
	if out := mustStrata(t, root, "inspect", "-f", "{{.State.Status}}", "pt-sig").Stdout; out != "paused\n" {
		t.Errorf("kill -s HUP of a paused container whose stop signal is USR1 left it %q, want paused", out)
	}
}

// waitCaught returns once the PID 1 of container name catches sig (its SigCgt in
// /proc/PID/status), as a shell does once its trap is set. A start returns once the command
// runs, not once it has set its trap: on a busy machine a container paused right away was
// frozen before its trap, and PID 1 of a pid namespace drops a signal it has no handler for,
// so a stop waited out its whole timeout (docker's does too).
func waitCaught(t *testing.T, root, name string, sig syscall.Signal) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Not there yet (a foreground run still creating it) or not yet running: Pid 0.
		pid := strings.TrimSpace(strata(t, root, "inspect", "-f", "{{.State.Pid}}", name).Stdout)
		if b, err := os.ReadFile("/proc/" + pid + "/status"); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "SigCgt:"); ok {
					if m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil && m&(1<<(uint(sig)-1)) != 0 {
						return
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s (PID %s) did not catch %v within 30 s", name, pid, sig)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPauseRemoveWithExec removes with rm -f a paused container into which an exec runs: its
// SIGKILLed PID 1 ends only once every process of its pid namespace is gone, the exec's
// included, which stayed frozen, and the rm waited until someone unpaused it.
func TestPauseRemoveWithExec(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	mustStrata(t, root, "run", "-d", "--name", "px", img, "sleep", "1000")
	t.Cleanup(func() {
		strata(t, root, "unpause", "px")
		strata(t, root, "rm", "-f", "px")
	})
	mustStrata(t, root, "exec", "-d", "px", "sleep", "999")
	mustStrata(t, root, "pause", "px")
	done := make(chan result, 1)
	go func() { done <- strata(t, root, "rm", "-f", "px") }()
	select {
	case r := <-done:
		if r.Code != 0 {
			t.Fatalf("rm -f of a paused container with an exec: exit %d, stderr %q", r.Code, r.Stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("rm -f of a paused container with an exec did not return")
	}
	if out := mustStrata(t, root, "ps", "-aq").Stdout; out != "" {
		t.Errorf("rm -f left %q", out)
	}
}

// cgroupDirsOf lists the directories of container id's cgroup that exist, in every cgroup
// and cgroup2 mount of the host.
func cgroupDirsOf(t *testing.T, id string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if !ok || len(f) < 5 || !strings.HasPrefix(post, "cgroup") {
			continue
		}
		dir := f[4] + "/strata/" + id
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// TestPauseForegroundSignal: a signal to a foreground run whose container is paused reaches
// it, as docker's proxy (a kill) resumes the container: a trap of INT exits 7 at once, where
// it waited, paused, until someone unpaused it.
func TestPauseForegroundSignal(t *testing.T) {
	root := busyboxRoot(t)
	cmd := exec.Command(strataBin, "--root", root, "run", "--name", "pf", "busybox:1.38.0-musl", "sh", "-c", `trap "exit 7" INT; while :; do sleep 0.1; done`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); strata(t, root, "rm", "-f", "pf") }) // ours
	// Paused once its trap is set: frozen before, the shell (PID 1) never had a handler for
	// the SIGINT, which its pid namespace then drops.
	waitCaught(t, root, "pf", syscall.SIGINT)
	mustStrata(t, root, "pause", "pf")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
			t.Errorf("the foreground run after SIGINT while paused = %v, want exit 7 from the trap", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a SIGINT to the foreground run of a paused container was not acted on")
	}
}
