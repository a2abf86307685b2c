package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pureV2Script runs strata ("$@") in a private mount namespace whose /sys/fs/cgroup is one
// cgroup2 mount, the layout of a pure v2 host (systemd's unified mode, most users' hosts),
// made here from this host's own cgroup2 hierarchy: on a hybrid host the v1 hierarchies
// disappear from strata's view, on a pure v2 host nothing changes.
const pureV2Script = `mount -t tmpfs strata-test /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec "$@"`

// v2Strata runs strata with --root root in a pure v2 layout (pureV2Script).
func v2Strata(t *testing.T, root string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{"-m", "--propagation", "private", "sh", "-c", pureV2Script, "sh", strataBin, "--root", root}, args...)
	cmd := exec.CommandContext(ctx, "unshare", argv...)
	cmd.Env = append(os.Environ(), "STRATA_REGISTRY_MIRROR=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("unshare strata %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{code, stdout.String(), stderr.String()}
}

func mustV2Strata(t *testing.T, root string, args ...string) result {
	t.Helper()
	r := v2Strata(t, root, args...)
	if r.Code != 0 {
		t.Fatalf("strata %s (pure v2 layout): exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// cgroup2Controllers returns the controllers the root of this host's cgroup2 hierarchy
// offers, seen through the same layout, or skips the test when no cgroup2 can be mounted.
func cgroup2Controllers(t *testing.T) []string {
	t.Helper()
	fs, err := os.ReadFile("/proc/filesystems")
	if err != nil || !bytes.Contains(fs, []byte("\tcgroup2\n")) {
		t.Skip("skipping: this kernel has no cgroup2")
	}
	out, err := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", pureV2Script, "sh", "cat", "/sys/fs/cgroup/cgroup.controllers").CombinedOutput()
	if err != nil {
		t.Skipf("skipping: cannot mount cgroup2 at /sys/fs/cgroup in a private mount namespace: %v: %s", err, out)
	}
	return strings.Fields(string(out))
}

// TestPureV2Layout plays strata on a pure cgroup v2 host, which the hybrid host the suite runs
// on is not: a foreground run; a detached container seen by ps, top, stats, exec and inspect,
// paused and unpaused, stopped, started again and removed with rm -f, nothing left of its
// cgroup or process; and the limits: enforced where the hierarchy offers their controller
// (memory.max and pids.max written), refused with exit 125 where it does not (on a hybrid
// host the v1 hierarchies hold memory and pids), never silently ignored.
func TestPureV2Layout(t *testing.T) {
	requiresContainers(t)
	controllers := cgroup2Controllers(t)
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"

	r := mustV2Strata(t, root, "run", "--rm", img, "sh", "-c", "echo ran; cat /proc/self/cgroup")
	if !strings.HasPrefix(r.Stdout, "ran\n") || !strings.Contains(r.Stdout, "\n0::/\n") {
		t.Errorf("run --rm output = %q, want ran and the container at the root of its cgroup namespace (0::/)", r.Stdout)
	}

	id := strings.TrimSpace(mustV2Strata(t, root, "run", "-d", "--name", "v2", img, "sleep", "1000").Stdout)
	t.Cleanup(func() {
		if r := v2Strata(t, root, "rm", "-f", "v2"); r.Code != 0 && !strings.Contains(r.Stderr, "No such container") {
			strata(t, root, "rm", "-f", "v2")
		}
	})
	pid := strings.TrimSpace(mustV2Strata(t, root, "inspect", "-f", "{{.State.Pid}}", "v2").Stdout)
	cg, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		t.Fatalf("the container's PID 1 %s: %v", pid, err)
	}
	if want := "0::/strata/" + id + "\n"; !strings.Contains(string(cg), want) {
		t.Errorf("PID 1's /proc/%s/cgroup = %q, want the line %q", pid, cg, strings.TrimSpace(want))
	}
	if out := mustV2Strata(t, root, "ps").Stdout; !strings.Contains(out, "v2") || !strings.Contains(out, "Up ") {
		t.Errorf("ps = %q, want v2 up", out)
	}
	if out := mustV2Strata(t, root, "top", "v2").Stdout; !strings.Contains(out, "sleep 1000") {
		t.Errorf("top = %q, want the sleep", out)
	}
	if out := mustV2Strata(t, root, "stats", "--no-stream", "v2").Stdout; !strings.Contains(out, "v2") {
		t.Errorf("stats --no-stream = %q, want a row for v2", out)
	}
	// With or without the pids controller (pids.current, else cgroup.threads): the sleep.
	if out := mustV2Strata(t, root, "stats", "--no-stream", "--format", "{{.PIDs}}", "v2").Stdout; out != "1\n" {
		t.Errorf("stats' PIDs of a container running one process = %q, want 1", out)
	}
	if out := mustV2Strata(t, root, "exec", "v2", "cat", "/proc/self/cgroup").Stdout; !strings.Contains(out, "\n0::/\n") {
		t.Errorf("exec's /proc/self/cgroup = %q, want it in the container's cgroup (0::/)", out)
	}
	// pause freezes it with the cgroup2 freezer (cgroup.freeze).
	mustV2Strata(t, root, "pause", "v2")
	if b, err := os.ReadFile(cgroup2Dir(t, id) + "/cgroup.freeze"); err != nil || string(b) != "1\n" {
		t.Errorf("cgroup.freeze of the paused container = %q, %v; want 1", b, err)
	}
	if out := mustV2Strata(t, root, "inspect", "-f", "{{.State.Status}}", "v2").Stdout; out != "paused\n" {
		t.Errorf("inspect's status of the paused container = %q, want paused", out)
	}
	mustV2Strata(t, root, "unpause", "v2")
	mustV2Strata(t, root, "stop", "-t", "1", "v2")
	if code := strings.TrimSpace(mustV2Strata(t, root, "inspect", "-f", "{{.State.ExitCode}}", "v2").Stdout); code != "143" && code != "137" {
		t.Errorf("exit code after stop = %s, want 143 or 137", code)
	}
	// Started again, it is back in its cgroup; rm -f of the running container ends it there.
	mustV2Strata(t, root, "start", "v2")
	pid = strings.TrimSpace(mustV2Strata(t, root, "inspect", "-f", "{{.State.Pid}}", "v2").Stdout)
	if cg, err := os.ReadFile("/proc/" + pid + "/cgroup"); err != nil || !strings.Contains(string(cg), "0::/strata/"+id+"\n") {
		t.Errorf("PID 1 %s after start: /proc/%s/cgroup = %q, %v; want it in /strata/%s", pid, pid, cg, err, id)
	}
	mustV2Strata(t, root, "rm", "-f", "v2")
	dir := cgroup2Dir(t, id)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the container's cgroup %s is left after rm -f: %v", dir, err)
	}
	if _, err := os.Stat("/proc/" + pid); !os.IsNotExist(err) {
		t.Errorf("the container's PID 1 %s outlived rm -f: %v", pid, err)
	}

	// A --privileged container's /sys/fs/cgroup is writable, and what nests a runtime in it
	// (docker-in-docker, systemd) makes cgroups under its own and moves its processes there.
	// Its stop records the command's status (not 125: the cgroup could not be removed), and
	// rm -f leaves nothing; a --rm one whose monitor is SIGKILLed is removed, cgroup and all,
	// by the next ps (it stayed Exited (255), its cgroup in use for good).
	nest := "mkdir /sys/fs/cgroup/init /sys/fs/cgroup/init/x /sys/fs/cgroup/empty && echo $$ > /sys/fs/cgroup/init/cgroup.procs && exec sleep 1000"
	id = strings.TrimSpace(mustV2Strata(t, root, "run", "-d", "--privileged", "--name", "nested", img, "sh", "-c", nest).Stdout)
	t.Cleanup(func() { v2Strata(t, root, "rm", "-f", "nested") })
	waitProcs(t, cgroup2Dir(t, id)+"/init")
	mustV2Strata(t, root, "stop", "-t", "0", "nested")
	if r := mustV2Strata(t, root, "inspect", "-f", "{{.State.ExitCode}}", "nested"); r.Stdout != "137\n" {
		t.Errorf("exit code of a container that made cgroups inside, after stop -t 0 = %q, want 137", r.Stdout)
	}
	mustV2Strata(t, root, "rm", "-f", "nested")
	if _, err := os.Stat(cgroup2Dir(t, id)); !os.IsNotExist(err) {
		t.Errorf("the cgroup of a container that made cgroups inside is left after stop and rm -f: %v", err)
	}
	id = strings.TrimSpace(mustV2Strata(t, root, "run", "-d", "--rm", "--privileged", "--name", "nested-rm", img, "sh", "-c", nest).Stdout)
	t.Cleanup(func() { v2Strata(t, root, "rm", "-f", "nested-rm") })
	waitProcs(t, cgroup2Dir(t, id)+"/init")
	pid = strings.TrimSpace(mustV2Strata(t, root, "inspect", "-f", "{{.State.Pid}}", "nested-rm").Stdout)
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	monitor, _ := strconv.Atoi(strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))[1])
	if err := syscall.Kill(monitor, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the monitor %d of nested-rm: %v", monitor, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out := mustV2Strata(t, root, "ps", "-a", "--format", "{{.Names}} {{.Status}}").Stdout
		if !strings.Contains(out, "nested-rm") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("ps -a after the monitor of --rm container nested-rm was killed still lists %q, want it removed", out)
			break
		}
	}
	if _, err := os.Stat(cgroup2Dir(t, id)); !os.IsNotExist(err) {
		t.Errorf("the cgroup of --rm container nested-rm is left once its monitor was killed: %v", err)
	}

	// docker-in-docker's entrypoint (and systemd) moves its processes into a cgroup of their
	// own and enables the controllers it has for its children: the container's cgroup then
	// takes no process (the kernel's no-internal-process rule), and exec's helper, born
	// there, failed with EBUSY. It is born in PID 1's cgroup, as runc's exec joins its
	// init's. Only where the container's cgroup has a controller to enable (a v2 host's
	// memory or pids; not this hybrid host's, whose cgroup2 tree strata enables none in).
	if ctrls := strings.TrimSpace(mustV2Strata(t, root, "run", "--rm", img, "cat", "/sys/fs/cgroup/cgroup.controllers").Stdout); ctrls == "" {
		t.Log("no controller in a container's cgroup: exec into a docker-in-docker container not tried")
	} else {
		dind := "mkdir /sys/fs/cgroup/init && echo $$ > /sys/fs/cgroup/init/cgroup.procs && sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control && touch /tmp/ready && exec sleep 1000"
		mustV2Strata(t, root, "run", "-d", "--privileged", "--name", "dind", img, "sh", "-c", dind)
		t.Cleanup(func() { v2Strata(t, root, "rm", "-f", "dind") })
		for deadline := time.Now().Add(30 * time.Second); v2Strata(t, root, "exec", "dind", "test", "-e", "/tmp/ready").Code != 0; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the docker-in-docker container never enabled its controllers")
			}
		}
		if r := v2Strata(t, root, "exec", "dind", "cat", "/proc/self/cgroup"); r.Code != 0 || !strings.Contains(r.Stdout, "0::/init\n") {
			t.Errorf("exec into a container that enabled controllers for its own cgroups: exit %d, %q (stderr %q); want it in PID 1's cgroup, 0::/init", r.Code, r.Stdout, r.Stderr)
		}
		mustV2Strata(t, root, "rm", "-f", "dind")
	}

	has := map[string]bool{}
	for _, c := range controllers {
		has[c] = true
	}
	for _, lim := range []struct {
		flag, value, controller, file, want string
	}{
		{"--memory", "64m", "memory", "memory.max", "67108864"},
		{"--pids-limit", "20", "pids", "pids.max", "20"},
	} {
		r := v2Strata(t, root, "run", "--rm", lim.flag, lim.value, img, "cat", "/sys/fs/cgroup/"+lim.file)
		switch {
		case has[lim.controller] && (r.Code != 0 || strings.TrimSpace(r.Stdout) != lim.want):
			t.Errorf("run %s %s with the %s controller: exit %d, %s = %q (stderr %q), want %s", lim.flag, lim.value, lim.controller, r.Code, lim.file, r.Stdout, r.Stderr, lim.want)
		case !has[lim.controller] && (r.Code != 125 || !strings.Contains(r.Stderr, "not supported")):
			t.Errorf("run %s %s without the %s controller: exit %d, stderr %q; want 125 saying the limit is not supported", lim.flag, lim.value, lim.controller, r.Code, r.Stderr)
		}
		if has[lim.controller] {
			continue
		}
		// Refused before the container is made: run -d left it created, run exited 125,
		// create made one no start could run; the error named a cgroup the user never saw.
		for _, cmd := range [][]string{{"run", "-d"}, {"run"}, {"create"}} {
			args := append(cmd, lim.flag, lim.value, img, "true")
			if r := v2Strata(t, root, args...); r.Code != 125 || strings.Contains(r.Stderr, "strata/") {
				t.Errorf("%s without the %s controller: exit %d, stderr %q; want 125 and no cgroup named", strings.Join(args, " "), lim.controller, r.Code, r.Stderr)
			}
		}
	}
	if r := mustV2Strata(t, root, "ps", "-a", "-q"); r.Stdout != "" {
		t.Errorf("ps -a -q at the end = %q, want no container left", r.Stdout)
	}
}

// cgroup2Dir is where container id's cgroup would be in this host's cgroup2 hierarchy, found
// by its mount point in the host's mountinfo (/sys/fs/cgroup/unified on a hybrid host).
func cgroup2Dir(t *testing.T, id string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		// fields … " - " fstype source options; the mount point is the fifth field.
		pre, post, ok := strings.Cut(line, " - ")
		if f := strings.Fields(pre); ok && len(f) > 4 && strings.HasPrefix(post, "cgroup2 ") {
			return fmt.Sprintf("%s/strata/%s", f[4], id)
		}
	}
	t.Fatal("no cgroup2 mount on this host")
	return ""
}

// waitProcs waits, up to 30 s, until a process is in the cgroup dir.
func waitProcs(t *testing.T, dir string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(dir + "/cgroup.procs"); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return
		}
	}
	t.Fatalf("no process came into the cgroup %s", dir)
}
