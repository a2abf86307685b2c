package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The kill points of killpoints_test.go, taken deterministically: strata stops itself
// (SIGSTOP) at a named point when STRATA_TEST_STOP_AT says so (runner.TestStopEnv), and is
// SIGKILLed there. Then the next ordinary command, with no rm, must remove what the kill left:
// the --rm container created but never started, the cgroup made before any container dir.
// Runs stopped at the same points and left alive, and a run whose container runs, are what a
// sweep must not touch.

// stopAt starts strata args on root with STRATA_TEST_STOP_AT=point and returns it once it has
// stopped itself there.
func (f *concFixture) stopAt(t *testing.T, root, point string, args ...string) *proc {
	t.Helper()
	g := *f
	g.env = append(slices.Clone(f.env), "STRATA_TEST_STOP_AT="+point)
	p := g.start(t, root, args...)
	stat := fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(stat)
		if err != nil {
			break
		}
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "T" {
			return p
		}
	}
	p.cmd.Process.Kill()
	p.wait(t)
	t.Fatalf("strata %v never stopped at %q: exit %d: %s", args, point, p.code, p.stderr.String())
	return nil
}

// kill SIGKILLs a stopped strata (its PID only) and reaps it.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	if code := p.wait(t); code != -1 {
		t.Errorf("strata %v: exit %d, want killed", p.args, code)
	}
}

// waitCgroupIdle waits until no process is left in the cgroups of container id: the init a
// killed run started early in it dies by its parent-death signal, a moment after the run.
// Until then the cgroup is in use and a sweep rightly keeps the container.
func waitCgroupIdle(t *testing.T, id string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		busy := false
		for _, dir := range cgroupsOf(id) {
			busy = busy || cgroupBusy(dir)
		}
		if !busy {
			return
		}
	}
	t.Fatalf("processes stay in the cgroup of container %.12s after its run was killed", id)
}

// cgroupBusy reports whether a process is in the cgroup dir, as strata's sweep judges it: one
// its cgroup.procs lists, or, in a v2 node, one still exiting, which cgroup.procs no longer
// lists but cgroup.events counts (populated 1) until the exit is through (tearing down the
// init's namespaces can take a while under load).
func cgroupBusy(dir string) bool {
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return true
	}
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	return err == nil && slices.Contains(strings.Split(string(b), "\n"), "populated 1")
}

// containerByName returns the ID the name index of root links name to, or "".
func containerByName(root, name string) string {
	id, _ := os.Readlink(filepath.Join(root, "containers", ".names", name))
	return id
}

// ageCgroups makes the cgroups named ids look made a minute ago, past the grace
// (cgroups.StaleAge) that spares those of strata from before the parent lock.
func ageCgroups(t *testing.T, ids map[string]bool) {
	t.Helper()
	old := time.Now().Add(-time.Minute)
	for id := range ids {
		for _, dir := range cgroupsOf(id) {
			// One held by no process may be swept meanwhile by any strata on the host (another
			// test's): gone is what the caller waits for anyway.
			if err := os.Chtimes(dir, old, old); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
	}
}

func TestOrphanRunRmKilled(t *testing.T) {
	requiresContainers(t)
	f := newConcFixture(t)
	root := newRoot(t)
	mustRun(t, f.env, "", root, "pull", "-q", f.a)
	marker := fmt.Sprintf("orphan-live-%d", os.Getpid())
	t.Cleanup(func() {
		for _, pid := range markedProcs(t, marker) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	rm := func(name string) []string { return []string{"run", "--rm", "--name", name, f.a, "true"} }

	// What must stay: a run whose container runs, a run stopped once its container is
	// created, one stopped once its cgroup is made (aged, so only its hold keeps it).
	live := f.start(t, root, append([]string{"run", "--rm", "--name", "live", f.a}, marked(marker, 60)...)...)
	// The run's own argv holds the marker too, and so, until they exec, does that of the
	// children it forks: what runs in the container is the marked shell.
	liveProcs := func() []int { return markedShells(t, marker) }
	for i := 0; len(liveProcs()) == 0; i++ {
		if i == 500 {
			t.Fatalf("the live container never ran: %s", live.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	held := f.stopAt(t, root, "created", rm("held")...)
	heldID := containerByName(root, "held")
	heldCg := f.stopAt(t, root, "cgroup", rm("heldcg")...)
	heldCgroups := cgroupsUsed(heldCg.cmd.Process.Pid)
	if len(heldCgroups) == 0 {
		t.Fatal("a run stopped once its cgroup is made holds no cgroup")
	}
	ageCgroups(t, heldCgroups)
	liveID := containerByName(root, "live")

	// checkKept checks what must stay is there, as it was.
	checkKept := func(after string) {
		t.Helper()
		if len(liveProcs()) == 0 {
			t.Errorf("after %s: the live container no longer runs", after)
		}
		for _, id := range []string{liveID, heldID} {
			if _, err := os.Lstat(filepath.Join(root, "containers", id)); err != nil {
				t.Errorf("after %s: container %.12s of a live run is gone: %v", after, id, err)
			}
		}
		for id := range heldCgroups {
			if len(cgroupsOf(id)) == 0 {
				t.Errorf("after %s: the cgroup %.12s a stopped run holds is gone", after, id)
			}
		}
		if len(cgroupsOf(liveID)) == 0 {
			t.Errorf("after %s: the live container's cgroup is gone", after)
		}
	}

	// A run killed between its container's creation and its start: the next ps, run, rm or
	// prune removes the container, as the kill left it created.
	for _, next := range [][]string{
		{"ps", "-a", "--format", "{{.Names}}"},
		rm("next"),
		{"rm", "orphan-nosuch"},
		{"prune"},
	} {
		t.Run(next[0], func(t *testing.T) {
			name := "orphan-" + next[0]
			p := f.stopAt(t, root, "created", rm(name)...)
			id := containerByName(root, name)
			if id == "" {
				t.Fatalf("no container %s once its run stopped after creating it", name)
			}
			p.kill(t)
			waitCgroupIdle(t, id)
			r := run(t, f.env, "", root, next...)
			if next[0] == "ps" {
				if r.Code != 0 || strings.Contains(r.Stdout, name) {
					t.Errorf("ps -a after the kill: exit %d, lists %q: want the container gone", r.Code, r.Stdout)
				}
				for _, want := range []string{"live", "held"} {
					if !slices.Contains(strings.Fields(r.Stdout), want) {
						t.Errorf("ps -a after the kill lists %q, want %s in it", r.Stdout, want)
					}
				}
			}
			if _, err := os.Lstat(filepath.Join(root, "containers", id)); err == nil {
				t.Errorf("strata %s left the container %.12s a killed run --rm created", strings.Join(next, " "), id)
			}
			if cg := cgroupsOf(id); len(cg) != 0 {
				t.Errorf("strata %s left the cgroups of killed container %.12s: %v", strings.Join(next, " "), id, cg)
			}
			checkKept(strings.Join(next, " "))
		})
	}

	// The same for a detached run, killed before it started the container's monitor: the
	// run recorded itself as the monitor at creation, so its death makes an orphan.
	t.Run("detached", func(t *testing.T) {
		p := f.stopAt(t, root, "created", "run", "-d", "--rm", "--name", "orphan-d", f.a, "true")
		id := containerByName(root, "orphan-d")
		if id == "" {
			t.Fatal("no container orphan-d once its run -d stopped after creating it")
		}
		p.kill(t)
		// The monitor run -d started early (PrepareMonitor) waits in the container's cgroup
		// for the run's go-ahead; it ends when it finds the run gone, and until then the
		// cgroup is in use, so a ps at that moment rightly keeps the container. The first ps
		// after it has ended removes it.
		var r result
		for i := 0; ; i++ {
			r = run(t, f.env, "", root, "ps", "-a", "--format", "{{.Names}}")
			if r.Code != 0 || !strings.Contains(r.Stdout, "orphan-d") || i == 50 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if r.Code != 0 || strings.Contains(r.Stdout, "orphan-d") {
			t.Errorf("ps -a after the kill of run -d --rm: exit %d, lists %q: want the container gone", r.Code, r.Stdout)
		}
		if _, err := os.Lstat(filepath.Join(root, "containers", id)); err == nil {
			t.Errorf("ps left the container %.12s a killed run -d --rm created", id)
		}
		if cg := cgroupsOf(id); len(cg) != 0 {
			t.Errorf("ps left the cgroups of killed container %.12s: %v", id, cg)
		}
		checkKept("ps after a killed run -d")
	})

	// Its name is free for the next run at once: `run --rm --name x` again after a kill.
	p := f.stopAt(t, root, "created", rm("again")...)
	againID := containerByName(root, "again")
	p.kill(t)
	waitCgroupIdle(t, againID)
	if r := run(t, f.env, "", root, rm("again")...); r.Code != 0 {
		t.Errorf("run --rm --name again after the first was killed: exit %d: %s", r.Code, r.Stderr)
	}
	checkKept("run of the same name")

	// A run killed once its cgroup is made, before its container dir: the next run removes
	// the cgroup (aged past the grace; the held one is aged too).
	p = f.stopAt(t, root, "cgroup", rm("nodir")...)
	leaked := cgroupsUsed(p.cmd.Process.Pid)
	if len(leaked) == 0 {
		t.Fatal("a run stopped once its cgroup is made holds no cgroup")
	}
	p.kill(t)
	for id := range leaked {
		waitCgroupIdle(t, id)
	}
	ageCgroups(t, leaked)
	// Aged and unheld, it is any strata's to sweep: one that another strata on this host
	// (another test's, run at the same time) swept already leaves nothing to check.
	for id := range leaked {
		if len(cgroupsOf(id)) == 0 {
			t.Logf("the killed run's cgroup %.12s was swept by another strata before the next run", id)
		}
	}
	mustRun(t, f.env, "", root, rm("after")...)
	for id := range leaked {
		if cg := cgroupsOf(id); len(cg) != 0 {
			t.Errorf("the next run left the cgroup of the run killed before its container dir: %v", cg)
		}
	}
	checkKept("the run after a kill before the container dir")

	// The runs that stayed, killed now, leave nothing once ps has run (the stopped cgroup
	// one after the grace).
	held.kill(t)
	heldCg.kill(t)
	waitCgroupIdle(t, heldID)
	for id := range heldCgroups {
		waitCgroupIdle(t, id)
	}
	ageCgroups(t, heldCgroups)
	mustRun(t, f.env, "", root, "rm", "-f", "live")
	live.wait(t)
	if r := mustRun(t, f.env, "", root, "ps", "-a", "-q"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("ps -a after killing the stopped runs lists %q, want nothing", r.Stdout)
	}
	ids := []string{liveID, heldID}
	for id := range heldCgroups {
		ids = append(ids, id)
	}
	checkNothingLeft(t, root, marker, ids)
}
