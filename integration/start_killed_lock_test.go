package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
)

// TestKilledStartKeepsLock: `start` and `run -d` SIGKILLed once they have spawned the
// container's monitor (or told the one run -d started early which container it runs), the
// monitor stopped before it looked at the container (STRATA_TEST_STOP_AT=monitor,
// monitor-told, which the monitor inherits). The container's lock must stay held until the
// monitor has recorded the start: it went with the killed strata, and an rm run then removed
// the container while its monitor was about to start it. Here the rm waits, then finds the
// container running (run -d's monitor gave up, taking the cgroup made for it for a dead
// monitor's); once it runs no process holds the lock (rm -f, stop and exec work) and neither
// the monitor nor the container holds the lock file.
func TestKilledStartKeepsLock(t *testing.T) {
	requiresContainers(t)
	f := newConcFixture(t)
	root := newRoot(t)
	mustRun(t, f.env, "", root, "load", "-q", "-i", f.archive)
	for _, how := range []string{"start", "run-d"} {
		t.Run(how, func(t *testing.T) {
			marker := fmt.Sprintf("startlock-%s-%d", how, os.Getpid())
			t.Cleanup(func() {
				for _, pid := range markedProcs(t, marker) {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			name := "k" + strings.ReplaceAll(how, "-", "")
			args := append([]string{"run", "-d", "--name", name, crash2Image}, marked(marker, 60)...)
			if how == "start" {
				mustRun(t, f.env, "", root, append([]string{"create", "--name", name, crash2Image}, marked(marker, 60)...)...)
				args = []string{"start", name}
			}
			p := f.stopAt(t, root, "monitor,monitor-told", args...)
			monitor := 0
			for deadline := time.Now().Add(30 * time.Second); monitor == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					p.kill(t)
					t.Fatalf("strata %v: no stopped monitor", args)
				}
				for _, pid := range testutil.ChildPids(p.cmd.Process.Pid) {
					if testutil.ProcState(pid) == "T" {
						monitor = pid
					}
				}
			}
			t.Cleanup(func() { syscall.Kill(monitor, syscall.SIGCONT) })
			p.kill(t)
			id := containerByName(root, name)
			lock := filepath.Join(root, "containers", id, "lock")
			if free, err := lockFree(lock); err != nil {
				t.Fatal(err)
			} else if free {
				t.Errorf("strata %v killed: the container's lock is free while its monitor starts it", args)
			}
			rm := f.start(t, root, "rm", name)
			time.Sleep(300 * time.Millisecond)
			if st := testutil.ProcState(rm.cmd.Process.Pid); st == "" || st == "Z" {
				rm.wait(t)
				t.Fatalf("rm while the monitor starts the container: exit %d, %s; want it to wait", rm.code, rm.stderr.String())
			}
			syscall.Kill(monitor, syscall.SIGCONT)
			if code := rm.wait(t); code == 0 || !strings.Contains(rm.stderr.String(), "running") {
				t.Errorf("rm of the container started meanwhile: exit %d, %s; want it refused as running", rm.code, rm.stderr.String())
			}
			if r := mustRun(t, f.env, "", root, "inspect", "-f", "{{.State.Running}} {{.State.Pid}}", name); !strings.HasPrefix(r.Stdout, "true ") {
				t.Fatalf("container after its monitor went on: %s", r.Stdout)
			} else if pid, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(r.Stdout, "true "))); pid > 0 {
				for _, holder := range []int{monitor, pid} {
					if testutil.HoldsPath(holder, lock) {
						t.Errorf("process %d (monitor %d, PID 1 %d) holds the container's lock file", holder, monitor, pid)
					}
				}
			}
			if free, err := lockFree(lock); err != nil || !free {
				t.Errorf("the container's lock while it runs: free %v, %v; want free", free, err)
			}
			mustRun(t, f.env, "", root, "exec", name, "true")
			mustRun(t, f.env, "", root, "rm", "-f", name)
			checkNothingLeft(t, root, marker, []string{id})
		})
	}
}

// lockFree tries the flock on path once, and releases it.
func lockFree(path string) (bool, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false, err
	}
	defer syscall.Close(fd)
	err = syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
	if err == syscall.EWOULDBLOCK {
		return false, nil
	}
	return err == nil, err
}
