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

// TestWaitWhileForceRemoved: a `wait` or a `start -a` on a running container that `rm -f`
// removes meanwhile ends as docker's do, with the exit code the kill gave it (wait prints
// 137 and exits 0, start -a exits 137), for a --rm container as for any other. rm -f removed
// the dir as soon as the container's PID 1 was dead, most often before the waiter had read
// the exit its monitor records, and the waiter failed with "no such container (removed)", or
// "container was removed when it exited (--rm)" for a --rm one. rm -f still returns at once
// and leaves nothing of the container.
func TestWaitWhileForceRemoved(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	for _, rm := range []bool{false, true} {
		for _, how := range []string{"wait", "start-a"} {
			for i := range 4 {
				name := fmt.Sprintf("wr-%s-%v-%d", how, rm, i)
				args := []string{"run", "-d", "--name", name}
				if rm {
					args = append(args, "--rm")
				}
				id := strings.TrimSpace(mustStrata(t, root, append(args, img, "sleep", "600")...).Stdout)
				var cmd *exec.Cmd
				if how == "wait" {
					cmd = exec.Command(strataBin, "--root", root, "wait", name)
				} else {
					cmd = exec.Command(strataBin, "--root", root, "start", "-a", name)
				}
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				waitWaiting(t, root, id, cmd.Process.Pid)
				began := time.Now()
				mustStrata(t, root, "rm", "-f", name)
				if d := time.Since(began); d > 3*time.Second {
					t.Errorf("%s: rm -f took %v", name, d)
				}
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					cmd.Process.Kill()
					<-done
					t.Fatalf("%s: %s still waiting 10 s after rm -f", name, how)
				}
				code := cmd.ProcessState.ExitCode()
				if how == "wait" && (code != 0 || stdout.String() != "137\n") {
					t.Errorf("%s: wait while rm -f: exit %d, stdout %q, stderr %q; want exit 0 and 137, as docker", name, code, stdout.String(), stderr.String())
				}
				if how == "start-a" && (code != 137 || stderr.String() != "") {
					t.Errorf("%s: start -a while rm -f: exit %d, stderr %q; want exit 137, as docker", name, code, stderr.String())
				}
				if _, err := os.Lstat(root + "/containers/" + id); !os.IsNotExist(err) {
					t.Errorf("%s: container dir left after rm -f: %v", name, err)
				}
				if cg := cgroupsOf(id); len(cg) > 0 {
					t.Errorf("%s: cgroups left after rm -f: %v", name, cg)
				}
			}
		}
	}
	if out := mustStrata(t, root, "ps", "-aq").Stdout; out != "" {
		t.Errorf("ps -aq after every rm -f: %q", out)
	}
	if m := mountsUnder(t, root+"/containers"); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
}

// TestForegroundRemovedWaiters: a `wait` on a foreground run --rm container prints its exit
// code once it exits, and a `stop -t 1` that has to SIGKILL it returns after its timeout, as
// docker's do. The run removed the container without recording its exit, while they held
// its dir waiting for one: the removal waited 2 s for them (its bound), then the wait failed
// "container was removed when it exited (--rm)" and the stop took 3 s.
func TestForegroundRemovedWaiters(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	for _, how := range []string{"wait", "stop"} {
		name := "fg-" + how
		script := "exit 3"
		if how == "stop" {
			script = "sleep 600" // PID 1 without a handler: SIGTERM does nothing
		}
		run := exec.Command(strataBin, "--root", root, "run", "--rm", "--name", name, img, "sh", "-c", "sleep 1; "+script)
		if err := run.Start(); err != nil {
			t.Fatal(err)
		}
		runDone := make(chan error, 1)
		go func() { runDone <- run.Wait() }()
		waitInspect(t, root, name, "{{.State.Running}}", "true", 30*time.Second)
		began := time.Now()
		var r result
		if how == "wait" {
			r = strata(t, root, "wait", name)
			if r.Code != 0 || r.Stdout != "3\n" {
				t.Errorf("wait: exit %d, stdout %q, stderr %q; want exit 0 and 3", r.Code, r.Stdout, r.Stderr)
			}
		} else {
			r = strata(t, root, "stop", "-t", "1", name)
			if r.Code != 0 {
				t.Errorf("stop -t 1: exit %d, stderr %q", r.Code, r.Stderr)
			}
		}
		if d := time.Since(began); d > 2500*time.Millisecond {
			t.Errorf("%s took %v; want about 1 s", how, d)
		}
		select {
		case <-runDone:
		case <-time.After(10 * time.Second):
			_ = run.Process.Kill()
			<-runDone
			t.Fatalf("%s: the run still runs 10 s later", how)
		}
		if want := map[string]int{"wait": 3, "stop": 137}[how]; run.ProcessState.ExitCode() != want {
			t.Errorf("%s: run exited %d, want %d", how, run.ProcessState.ExitCode(), want)
		}
	}
	if out := mustStrata(t, root, "ps", "-aq").Stdout; out != "" {
		t.Errorf("ps -aq at the end: %q", out)
	}
}

// waitWaiting waits for the strata process pid to wait for the exit of container id, as
// wait, start -a and logs -f do: it holds the container's dir shared with flock then
// (runner's holdDirAsWaiter), which an rm waits for, and which /proc/locks lists. (An
// inotify watch of the dir is no sign: start -a makes one first to see whether another
// start is under way.)
func waitWaiting(t *testing.T, root, id string, pid int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(root, "containers", id), &st); err != nil {
		t.Fatal(err)
	}
	// "1: FLOCK  ADVISORY  READ  1234 00:2d:5678 0 EOF": its pid, then the file's device and
	// inode.
	ino := ":" + strconv.FormatUint(st.Ino, 10)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		locks, err := os.ReadFile("/proc/locks")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(locks), "\n") {
			if f := strings.Fields(l); len(f) >= 6 && f[1] == "FLOCK" && f[3] == "READ" &&
				f[4] == strconv.Itoa(pid) && strings.HasSuffix(f[5], ino) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("strata (pid %d) does not wait for container %s after 30 s", pid, id[:12])
		}
	}
}
