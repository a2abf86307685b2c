package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// inspectHealth is docker's State.Health as strata's inspect prints it.
type inspectHealth struct {
	Status        string
	FailingStreak int
	Log           []struct {
		Start, End time.Time
		ExitCode   int
		Output     string
	}
}

// healthOf returns name's State.Health, nil when inspect shows none.
func healthOf(t *testing.T, root, name string) *inspectHealth {
	t.Helper()
	out := mustStrata(t, root, "inspect", "-f", "{{json .State.Health}}", name).Stdout
	var h *inspectHealth
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("inspect %s: State.Health %q: %v", name, out, err)
	}
	return h
}

// waitHealth waits (30 s at most) until name's health satisfies cond, and returns it.
func waitHealth(t *testing.T, root, name string, cond func(*inspectHealth) bool) *inspectHealth {
	t.Helper()
	var h *inspectHealth
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if h = healthOf(t, root, name); h != nil && cond(h) {
			return h
		}
		exec.Command("sleep", "0.05").Run()
	}
	t.Fatalf("%s: health %+v, still not as wanted after 30s", name, h)
	return nil
}

// liveProcs counts the processes of container name whose command is cmd, zombies left out.
func liveProcs(t *testing.T, root, name, cmd string) int {
	t.Helper()
	n := 0
	for _, l := range strings.Split(strata(t, root, "top", name).Stdout, "\n") {
		if strings.HasSuffix(l, " "+cmd) && !strings.Contains(l, "<defunct>") {
			n++
		}
	}
	return n
}

// TestHealthcheck runs docker's health checks of a detached container: a passing check makes
// it healthy (ps shows "(healthy)", --filter health= finds it, an event says so), and runs in
// the container as exec does (its user, environment, namespaces and cgroup); a failing one
// makes it unhealthy once the streak reaches the retries.
func TestHealthcheck(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	check := `[ "$FOO" = bar ] && [ "$(id -u)" = 1234 ] && [ "$(cat /proc/self/cgroup)" = "$(cat /proc/1/cgroup)" ] && readlink /proc/self/ns/pid && readlink /proc/self/ns/mnt && readlink /proc/self/ns/net`
	mustStrata(t, root, "run", "-d", "--name", "up", "-e", "FOO=bar", "-u", "1234", "--health-cmd", check, "--health-interval", "100ms", img, "sleep", "1000")
	mustStrata(t, root, "run", "-d", "--name", "down", "--health-cmd", "echo down; exit 1", "--health-interval", "100ms", "--health-retries", "2", img, "sleep", "1000")
	h := waitHealth(t, root, "up", func(h *inspectHealth) bool { return h.Status != "starting" })
	last := h.Log[len(h.Log)-1]
	pid := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Pid}}", "up").Stdout)
	var want []string
	for _, ns := range []string{"pid", "mnt", "net"} {
		l, err := os.Readlink(fmt.Sprintf("/proc/%s/ns/%s", pid, ns))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, l)
	}
	if h.Status != "healthy" || h.FailingStreak != 0 || last.ExitCode != 0 || strings.Fields(last.Output) == nil || strings.Join(strings.Fields(last.Output), " ") != strings.Join(want, " ") {
		t.Errorf("up: health %+v, want healthy, its check run as exec runs it (namespaces %q)", h, want)
	}
	h = waitHealth(t, root, "down", func(h *inspectHealth) bool { return h.Status == "unhealthy" })
	if h.FailingStreak < 2 || h.Log[len(h.Log)-1].ExitCode != 1 || h.Log[len(h.Log)-1].Output != "down\n" {
		t.Errorf("down: health %+v, want a streak of at least 2 failures with exit 1", h)
	}

	ps := mustStrata(t, root, "ps", "--format", "{{.Names}} {{.Status}}").Stdout
	for _, want := range []string{"up Up", "(healthy)", "down Up", "(unhealthy)"} {
		if !strings.Contains(ps, want) {
			t.Errorf("ps:\n%s\nwant %q", ps, want)
		}
	}
	for filter, want := range map[string]string{"health=healthy": "up", "health=unhealthy": "down", "health=starting": "", "health=none": ""} {
		if got := strings.TrimSpace(mustStrata(t, root, "ps", "--filter", filter, "--format", "{{.Names}}").Stdout); got != want {
			t.Errorf("ps --filter %s = %q, want %q", filter, got, want)
		}
	}
	events := mustStrata(t, root, "events", "--since", "10m", "--until", "0s", "--filter", "event=health_status", "--format", "{{.Actor.Attributes.name}} {{.Action}}").Stdout
	for _, want := range []string{"up health_status: healthy", "down health_status: unhealthy"} {
		if !strings.Contains(events, want) {
			t.Errorf("events:\n%s\nwant %q", events, want)
		}
	}

	// An event names the container as it is named now.
	mustStrata(t, root, "run", "-d", "--name", "before", "--health-cmd", "[ ! -e /tmp/bad ]", "--health-interval", "100ms", "--health-retries", "1", img, "sleep", "1000")
	waitHealth(t, root, "before", func(h *inspectHealth) bool { return h.Status == "healthy" })
	mustStrata(t, root, "rename", "before", "after")
	mustStrata(t, root, "exec", "after", "touch", "/tmp/bad")
	waitHealth(t, root, "after", func(h *inspectHealth) bool { return h.Status == "unhealthy" })
	events = mustStrata(t, root, "events", "--since", "10m", "--until", "0s", "--filter", "event=health_status", "--format", "{{.Actor.Attributes.name}} {{.Action}}").Stdout
	for _, want := range []string{"before health_status: healthy", "after health_status: unhealthy"} {
		if !strings.Contains(events, want) {
			t.Errorf("events:\n%s\nwant %q", events, want)
		}
	}
	mustStrata(t, root, "rm", "-f", "after")

	// Stopped, it keeps its log and shows unhealthy, as docker's; ps shows no health.
	mustStrata(t, root, "rm", "-f", "down")
	mustStrata(t, root, "kill", "up")
	mustStrata(t, root, "wait", "up")
	if h := healthOf(t, root, "up"); h == nil || h.Status != "unhealthy" || len(h.Log) == 0 {
		t.Errorf("up, killed: health %+v, want unhealthy with its log", h)
	}
	if ps := mustStrata(t, root, "ps", "-a", "--format", "{{.Status}}").Stdout; strings.Contains(ps, "health") {
		t.Errorf("ps -a of an exited container: %q, want no health", ps)
	}
}

// TestHealthcheckTimeout: a check that runs past --health-timeout is killed, with the
// processes it started, and fails with -1 and docker's message.
func TestHealthcheckTimeout(t *testing.T) {
	root := busyboxRoot(t)
	mustStrata(t, root, "run", "-d", "--name", "slow", "--health-cmd", "sleep 1000 & sleep 1000", "--health-timeout", "200ms", "--health-interval", "100ms", "--health-retries", "1", "busybox:1.38.0-musl", "sleep", "2000")
	h := waitHealth(t, root, "slow", func(h *inspectHealth) bool { return h.FailingStreak >= 4 })
	for _, r := range h.Log {
		if r.ExitCode != -1 || r.Output != "Health check exceeded timeout (200ms)" {
			t.Errorf("check past its timeout: %+v, want -1 and docker's message", r)
		}
	}
	if h.Status != "unhealthy" {
		t.Errorf("health %+v, want unhealthy", h)
	}
	// Four checks were killed; each left no sleep behind, so at most the one under way runs.
	if n := liveProcs(t, root, "slow", "sleep 1000"); n > 2 {
		t.Errorf("%d checks' sleep 1000 still run, want those of the one check under way at most", n)
	}

	// A timeout about as long as the start of an exec: the timeout counts from the start, as
	// docker's, and the start is never cut short. Killed before it answered, the helper had
	// started some commands already, which then ran on in the container, one every few checks.
	for _, timeout := range []string{"2ms", "3ms", "5ms"} {
		name := "short" + timeout
		mustStrata(t, root, "run", "-d", "--name", name, "--health-cmd", "sleep 1000", "--health-timeout", timeout, "--health-interval", "20ms", "busybox:1.38.0-musl", "sleep", "2000")
		h := waitHealth(t, root, name, func(h *inspectHealth) bool { return h.FailingStreak >= 20 })
		if r := h.Log[0]; r.ExitCode != -1 || r.Output != "Health check exceeded timeout ("+timeout+")" {
			t.Errorf("%s: check %+v, want -1 and docker's timeout message", name, r)
		}
		if n := liveProcs(t, root, name, "sleep 1000"); n > 1 {
			t.Errorf("%s: %d checks' sleep 1000 still run, want the one under way at most", name, n)
		}
	}
}

// TestHealthcheckHostile: a check that floods its output is bounded as docker's (4096 bytes
// and "..."); one whose /bin/sh is gone fails with -1 and why, the container running on.
func TestHealthcheckHostile(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	mustStrata(t, root, "run", "-d", "--name", "flood", "--health-cmd", "yes | head -c 1000000", "--health-interval", "100ms", img, "sleep", "1000")
	mustStrata(t, root, "run", "-d", "--name", "noshell", "--health-cmd", "true", "--health-interval", "100ms", "--health-start-period", "1h", "--health-start-interval", "100ms", img, "sleep", "1000")
	mustStrata(t, root, "exec", "noshell", "rm", "/bin/sh")
	h := waitHealth(t, root, "flood", func(h *inspectHealth) bool { return len(h.Log) > 0 })
	if out := h.Log[0].Output; h.Status != "healthy" || len(out) != 4096+3 || !strings.HasPrefix(out, "y\ny\n") || !strings.HasSuffix(out, "y\n...") {
		t.Errorf("flood: %s, output of %d bytes ending %q; want healthy, 4096 bytes and ...", h.Status, len(out), out[max(0, len(out)-8):])
	}
	// Its first checks may pass before the rm: wait for a failure.
	h = waitHealth(t, root, "noshell", func(h *inspectHealth) bool { return len(h.Log) > 0 && h.Log[len(h.Log)-1].ExitCode != 0 })
	if last := h.Log[len(h.Log)-1]; last.ExitCode != -1 || !strings.Contains(last.Output, "/bin/sh") {
		t.Errorf("noshell: last check %+v, want -1 naming /bin/sh", last)
	}
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Status}}", "noshell").Stdout); got != "running" {
		t.Errorf("noshell: %s, want running", got)
	}
}

// TestHealthcheckNeverHoldsUp: a check under way (sleep with an hour's timeout) delays
// neither stop, rm -f, nor the container's own exit; nothing of it is recorded, and the
// harness's time limit would end a command it held up.
func TestHealthcheckNeverHoldsUp(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	args := []string{"--health-cmd", "sleep 1000", "--health-timeout", "1h", "--health-interval", "100ms", "--init"}
	for _, name := range []string{"stopped", "removed"} {
		mustStrata(t, root, append(append([]string{"run", "-d", "--name", name}, args...), img, "sleep", "2000")...)
	}
	mustStrata(t, root, append(append([]string{"run", "-d", "--name", "exits"}, args...), img, "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done")...)
	for _, name := range []string{"stopped", "removed", "exits"} {
		waitFor30(t, func() bool { return liveProcs(t, root, name, "sleep 1000") > 0 })
	}
	mustStrata(t, root, "stop", "stopped")
	mustStrata(t, root, "rm", "-f", "removed")
	// -d: the container ends once /tmp/go is there, which can kill a touch not yet
	// exited (exec 137, as docker's exec dies with its container).
	mustStrata(t, root, "exec", "-d", "exits", "touch", "/tmp/go")
	if code := strings.TrimSpace(mustStrata(t, root, "wait", "exits").Stdout); code != "0" {
		t.Errorf("wait exits = %s, want 0", code)
	}
	for _, name := range []string{"stopped", "exits"} {
		if h := healthOf(t, root, name); h == nil || h.Status != "unhealthy" || len(h.Log) != 0 {
			t.Errorf("%s: health %+v, want unhealthy with nothing logged of the check cut short", name, h)
		}
	}
	if r := strata(t, root, "inspect", "removed"); r.Code == 0 {
		t.Errorf("inspect removed: exit 0, want it gone")
	}
}

// TestHealthcheckImage: an image's HEALTHCHECK runs; flags merge over it as docker's daemon
// merges them (fields left zero are the image's); --no-healthcheck disables it.
func TestHealthcheckImage(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	// The test fails N times (2 unless the container says), and then hangs (up to the 30 s
	// default timeout): its failing streak stays at N however late it is looked at. It went
	// on failing every 100 ms, and a poll on a busy machine saw a streak of 5 where 2 was
	// wanted.
	loadConfigImage(t, root, "checked:1", nil, nil, func(c *v1.Config) {
		c.Healthcheck = &v1.HealthConfig{Test: []string{"CMD-SHELL", `n=$(($(cat /n 2>/dev/null || echo 0)+1)); echo $n >/n; [ $n -le ${N:-2} ] || exec sleep 1000; echo image; exit 1`},
			Interval: 100 * time.Millisecond, Retries: 2}
	})
	loadConfigImage(t, root, "checked:exec", nil, nil, func(c *v1.Config) {
		c.Healthcheck = &v1.HealthConfig{Test: []string{"CMD", "echo", "exec form", "$HOME"}, Interval: 100 * time.Millisecond}
	})
	mustStrata(t, root, "run", "-d", "--name", "exec", "checked:exec", "sleep", "1000")
	mustStrata(t, root, "run", "-d", "--name", "image", "checked:1", "sleep", "1000")
	mustStrata(t, root, "run", "-d", "--name", "merged", "--health-retries", "5", "-e", "N=4", "checked:1", "sleep", "1000")
	mustStrata(t, root, "run", "-d", "--name", "none", "--no-healthcheck", "checked:1", "sleep", "1000")
	h := waitHealth(t, root, "image", func(h *inspectHealth) bool { return h.Status == "unhealthy" })
	if h.FailingStreak != 2 || h.Log[0].Output != "image\n" {
		t.Errorf("image: health %+v, want unhealthy after the image's 2 retries of its test", h)
	}
	// CMD runs its arguments as they are, without a shell.
	h = waitHealth(t, root, "exec", func(h *inspectHealth) bool { return h.Status != "starting" })
	if h.Status != "healthy" || h.Log[0].Output != "exec form $HOME\n" {
		t.Errorf("exec: health %+v, want healthy with the arguments echoed as they are", h)
	}
	h = waitHealth(t, root, "merged", func(h *inspectHealth) bool { return h.FailingStreak == 4 })
	if h.Status != "starting" || h.Log[0].Output != "image\n" {
		t.Errorf("merged: health %+v, want the image's test, still starting after 4 failures with --health-retries 5", h)
	}
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{json .Config.Healthcheck}} {{json .State.Health}}", "none").Stdout); got != `{"Test":["NONE"],"Interval":100000000,"Retries":2} null` {
		t.Errorf("none: inspect Config.Healthcheck and State.Health = %s, want NONE and null", got)
	}
	if got := strings.TrimSpace(mustStrata(t, root, "ps", "--filter", "health=none", "--format", "{{.Names}} {{.Status}}").Stdout); !strings.HasPrefix(got, "none Up") || strings.Contains(got, "health") {
		t.Errorf("ps --filter health=none = %q, want none, without health", got)
	}
}

// waitFor30 polls cond for up to 30 s.
func waitFor30(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if cond() {
			return
		}
		exec.Command("sleep", "0.05").Run()
	}
	t.Fatal("timed out waiting 30s")
}

// TestHealthcheckForeground: a foreground run is its container's monitor, and runs its checks.
func TestHealthcheckForeground(t *testing.T) {
	root := busyboxRoot(t)
	cmd := exec.Command(strataBin, "--root", root, "run", "--name", "fg", "--health-cmd", "echo fg", "--health-interval", "100ms",
		"busybox:1.38.0-musl", "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	waitFor30(t, func() bool {
		r := strata(t, root, "inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", "fg")
		return strings.TrimSpace(r.Stdout) == "healthy"
	})
	if h := healthOf(t, root, "fg"); h.Log[0].Output != "fg\n" {
		t.Errorf("fg: health %+v, want its check's output", h)
	}
	// -d: the container ends once /tmp/go is there, which can kill a touch not yet
	// exited (exec 137, as docker's exec dies with its container).
	mustStrata(t, root, "exec", "-d", "fg", "touch", "/tmp/go")
	if err := <-done; err != nil {
		t.Errorf("run: %v, want exit 0", err)
	}
	done <- nil // for the cleanup
}

// TestHealthcheckCommit: commit keeps the container's healthcheck in the image it writes,
// StartInterval too, as docker commit does; image inspect shows it, and a container of the
// new image has it.
func TestHealthcheckCommit(t *testing.T) {
	root := busyboxRoot(t)
	mustStrata(t, root, "create", "--name", "checked", "--health-cmd", "echo ok", "--health-interval", "1s",
		"--health-start-period", "3s", "--health-start-interval", "200ms", "--health-retries", "4", "busybox:1.38.0-musl", "true")
	mustStrata(t, root, "commit", "checked", "checked:committed")
	want := `{"Test":["CMD-SHELL","echo ok"],"Interval":1000000000,"StartPeriod":3000000000,"StartInterval":200000000,"Retries":4}`
	if got := strings.TrimSpace(mustStrata(t, root, "image", "inspect", "-f", "{{json .Config.Healthcheck}}", "checked:committed").Stdout); got != want {
		t.Errorf("image inspect of the commit: Healthcheck %s, want the container's %s", got, want)
	}
	mustStrata(t, root, "create", "--name", "fromcommit", "checked:committed", "true")
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{json .Config.Healthcheck}}", "fromcommit").Stdout); got != want {
		t.Errorf("a container of the commit: Healthcheck %s, want %s", got, want)
	}
}

// TestHealthcheckCommitChange: commit -c HEALTHCHECK (and STOPSIGNAL), which docker's commit
// takes (its validCommitCommands), sets the image's healthcheck, what it leaves zero filled
// from the container's, as docker's daemon merges the changed config with the container's;
// import -c HEALTHCHECK keeps its --start-interval. Both were refused as no valid change
// command.
func TestHealthcheckCommitChange(t *testing.T) {
	root := busyboxRoot(t)
	mustStrata(t, root, "create", "--name", "checked", "--health-cmd", "echo ok", "--health-interval", "1s",
		"--health-start-period", "3s", "--health-start-interval", "200ms", "--health-retries", "4", "busybox:1.38.0-musl", "true")
	mustStrata(t, root, "commit", "-c", `HEALTHCHECK --interval=5s CMD ["true"]`, "-c", "STOPSIGNAL SIGQUIT", "checked", "checked:changed")
	want := `{"Test":["CMD","true"],"Interval":5000000000,"StartPeriod":3000000000,"StartInterval":200000000,"Retries":4} SIGQUIT`
	if got := strings.TrimSpace(mustStrata(t, root, "image", "inspect", "-f", "{{json .Config.Healthcheck}} {{.Config.StopSignal}}", "checked:changed").Stdout); got != want {
		t.Errorf("commit -c HEALTHCHECK: %s, want %s", got, want)
	}
	mustStrata(t, root, "commit", "-c", "HEALTHCHECK NONE", "checked", "checked:none")
	want = `{"Test":["NONE"],"Interval":1000000000,"StartPeriod":3000000000,"StartInterval":200000000,"Retries":4}`
	if got := strings.TrimSpace(mustStrata(t, root, "image", "inspect", "-f", "{{json .Config.Healthcheck}}", "checked:none").Stdout); got != want {
		t.Errorf("commit -c HEALTHCHECK NONE: %s, want %s", got, want)
	}

	tarball := filepath.Join(t.TempDir(), "fs.tar")
	mustStrata(t, root, "export", "-o", tarball, "checked")
	mustStrata(t, root, "import", "-c", "HEALTHCHECK --start-interval=2s --retries=1 CMD true", tarball, "imported:health")
	want = `{"Test":["CMD-SHELL","true"],"StartInterval":2000000000,"Retries":1}`
	if got := strings.TrimSpace(mustStrata(t, root, "image", "inspect", "-f", "{{json .Config.Healthcheck}}", "imported:health").Stdout); got != want {
		t.Errorf("import -c HEALTHCHECK: %s, want %s", got, want)
	}

	// The image's ONBUILD is not the container's, and so not the commit's, as in docker:
	// its daemon's merge of an image's config into a container's takes no OnBuild (nor
	// Shell), and its commit writes the container's config with what -c adds.
	mustStrata(t, root, "import", "-c", "ONBUILD RUN x", "-c", `CMD ["true"]`, tarball, "imported:onbuild")
	mustStrata(t, root, "create", "--name", "onb", "imported:onbuild")
	mustStrata(t, root, "commit", "onb", "onb:plain")
	mustStrata(t, root, "commit", "-c", "ONBUILD RUN y", "onb", "onb:changed")
	for ref, want := range map[string]string{"imported:onbuild": `["RUN x"]`, "onb:plain": "null", "onb:changed": `["RUN y"]`} {
		if got := strings.TrimSpace(mustStrata(t, root, "image", "inspect", "-f", "{{json .Config.OnBuild}}", ref).Stdout); got != want {
			t.Errorf("%s: OnBuild %s, want %s", ref, got, want)
		}
	}
}
