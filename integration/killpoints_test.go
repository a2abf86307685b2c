package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Kill points: each operation is SIGKILLed (by the PID of the strata this test started, never
// a group) after delays swept from 0 to its measured duration, and the next commands must find
// a whole store and nothing of a container left: no mount under the root, no cgroup, no
// process. TestKillStoreCommands kills store commands at random moments on one root; these
// sweep the whole of each operation on fresh roots and check the containers too.

// killSteps is how many delays each operation is killed at: $STRATA_KILL_STEPS to search
// harder than make test has time for.
func killSteps() int {
	if n, err := strconv.Atoi(os.Getenv("STRATA_KILL_STEPS")); err == nil && n > 0 {
		return n
	}
	if testing.Short() {
		return 3
	}
	return 6
}

// delays returns n delays from 0 to d, evenly spaced, the last a little short of d.
func delays(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d * time.Duration(i) / time.Duration(n)
	}
	return out
}

// measure runs strata args on root to its end and returns how long it took.
func (f *concFixture) measure(t *testing.T, root string, args ...string) time.Duration {
	t.Helper()
	start := time.Now()
	p := f.start(t, root, args...)
	if code := p.wait(t); code != 0 {
		t.Fatalf("strata %v: exit %d: %s", args, code, p.stderr.String())
	}
	return time.Since(start)
}

// killAfter starts strata args on root, SIGKILLs it (its PID only) after d and reaps it. It
// reports whether the kill landed before strata ended.
func (f *concFixture) killAfter(t *testing.T, root string, d time.Duration, args ...string) bool {
	t.Helper()
	p := f.start(t, root, args...)
	time.Sleep(d)
	p.cmd.Process.Signal(syscall.SIGKILL)
	code := p.wait(t)
	if code != 0 && code != -1 {
		t.Errorf("strata %v ended on its own with exit %d before the kill: %s", args, code, p.stderr.String())
	}
	return code == -1
}

// checkAfterStoreKill checks a root after a store command was killed: the commands that read
// and lock the store work, images lists only whole images, every blob matches its digest;
// then a pull of ref completes, runs, and a prune leaves only what the images use.
func (f *concFixture) checkAfterStoreKill(t *testing.T, root, ref string) {
	t.Helper()
	if r := run(t, f.env, "", root, "images", "--format", "{{.Repository}}:{{.Tag}}"); r.Code != 0 {
		t.Errorf("images after the kill: exit %d: %s", r.Code, r.Stderr)
	} else {
		for _, name := range strings.Fields(r.Stdout) {
			// Every image listed must be whole: its blobs all there, verified.
			out := filepath.Join(t.TempDir(), "img.tar")
			if s := run(t, f.env, "", root, "save", "-o", out, name); s.Code != 0 {
				t.Errorf("images lists %s after the kill, but save of it fails: %s", name, s.Stderr)
			}
		}
	}
	checkStore(t, root)
	checkStoreComplete(t, root)
	mustRun(t, f.env, "", root, "pull", "-q", ref)
	if testing.Short() {
		mustRun(t, f.env, "", root, "prune")
	} else {
		requiresContainers(t)
		mustRun(t, f.env, "", root, "run", "--rm", ref, "true")
		mustRun(t, f.env, "", root, "prune")
	}
	checkStore(t, root)
	checkStoreComplete(t, root)
	checkNoLeftovers(t, root)
}

func TestKillPointsPull(t *testing.T) {
	f := newConcFixture(t)
	d := f.measure(t, newRoot(t), "pull", "-q", f.c)
	t.Logf("pull of %s takes %v", f.c, d)
	killed := 0
	for _, delay := range delays(d, killSteps()) {
		root := newRoot(t)
		if f.killAfter(t, root, delay, "pull", "-q", f.c) {
			killed++
		}
		f.checkAfterStoreKill(t, root, f.c)
	}
	t.Logf("%d pulls killed before they ended", killed)
}

func TestKillPointsLoad(t *testing.T) {
	f := newConcFixture(t)
	d := f.measure(t, newRoot(t), "load", "-q", "-i", f.archive)
	t.Logf("load takes %v", d)
	for _, delay := range delays(d, killSteps()) {
		root := newRoot(t)
		f.killAfter(t, root, delay, "load", "-q", "-i", f.archive)
		mustRun(t, f.env, "", root, "load", "-q", "-i", f.archive)
		f.checkAfterStoreKill(t, root, f.c)
	}
}

func TestKillPointsPrune(t *testing.T) {
	f := newConcFixture(t)
	setup := func(root string) {
		mustRun(t, f.env, "", root, "pull", "-q", f.b)
		mustRun(t, f.env, "", root, "pull", "-q", f.c)
	}
	measured := newRoot(t)
	setup(measured)
	d := f.measure(t, measured, "prune", "-a")
	t.Logf("prune takes %v", d)
	for _, delay := range delays(d, killSteps()) {
		root := newRoot(t)
		setup(root)
		f.killAfter(t, root, delay, "prune", "-a")
		checkStore(t, root)
		checkStoreComplete(t, root)
		mustRun(t, f.env, "", root, "prune")
		checkNoLeftovers(t, root)
		f.checkAfterStoreKill(t, root, f.b)
	}
}

// marked is a container command that names marker in its argv, so its processes can be found
// in /proc whatever became of strata and its records. `; :` keeps sh from exec'ing sleep.
func marked(marker string, secs int) []string {
	return []string{"sh", "-c", fmt.Sprintf("sleep %d; :", secs), marker}
}

// markedProcs returns the PIDs of the processes whose argv holds marker.
func markedProcs(t *testing.T, marker string) []int {
	t.Helper()
	return procsWhere(t, func(argv []string) bool { return slices.Contains(argv, marker) })
}

// markedShells returns the PIDs of the shells marked(marker, …) started: the containers' own
// processes. A strata whose argv holds marker is none, nor is a child it forked and has not
// yet exec'd, whose argv reads as its parent's until then.
func markedShells(t *testing.T, marker string) []int {
	t.Helper()
	return procsWhere(t, func(argv []string) bool { return argv[0] == "sh" && slices.Contains(argv, marker) })
}

// procsWhere returns the PIDs of the processes, other than this one, whose argv match takes.
func procsWhere(t *testing.T, match func(argv []string) bool) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		if match(strings.Split(string(b), "\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// containerIDs returns the full IDs of the containers ps -a lists on root.
func containerIDs(t *testing.T, env []string, root string) []string {
	t.Helper()
	r := mustRun(t, env, "", root, "ps", "-a", "-q", "--no-trunc")
	return strings.Fields(r.Stdout)
}

// cgroupsOf returns the cgroup dirs named for container id, in every hierarchy.
func cgroupsOf(id string) []string {
	a, _ := filepath.Glob("/sys/fs/cgroup/*/strata/" + id)
	b, _ := filepath.Glob("/sys/fs/cgroup/strata/" + id)
	return append(a, b...)
}

// cgroupRe matches a container's cgroup dir under strata's parent, in any hierarchy.
var cgroupRe = regexp.MustCompile(`^/sys/fs/cgroup/(?:[^/]+/)?strata/([0-9a-f]{64})$`)

// descendants returns pid and the processes descended from it.
func descendants(pid int) []int {
	parent := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		rest := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(rest) > 1 {
			pp, _ := strconv.Atoi(rest[1])
			parent[pp] = append(parent[pp], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, parent[out[i]]...)
	}
	return out
}

// cgroupsUsed returns the IDs of the container cgroups that pid and its descendants hold
// open (the hold cgroups.New takes) or name on their command line (an init's cgroup= args).
// Other strata processes on the host make cgroups under the same parent: only these are the
// ones this test's strata made.
func cgroupsUsed(pid int) map[string]bool {
	ids := map[string]bool{}
	for _, p := range descendants(pid) {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p))
		for _, fd := range fds {
			if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p, fd.Name())); err == nil {
				if m := cgroupRe.FindStringSubmatch(l); m != nil {
					ids[m[1]] = true
				}
			}
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		for _, a := range strings.Split(string(b), "\x00") {
			if m := cgroupRe.FindStringSubmatch(strings.TrimPrefix(a, "cgroup=")); m != nil {
				ids[m[1]] = true
			}
		}
	}
	return ids
}

// stopAndKill starts strata args on root, and after d stops it (SIGSTOP, its PID only), reads
// which cgroups it and its children use, SIGKILLs it and reaps it. It returns those cgroups.
func (f *concFixture) stopAndKill(t *testing.T, root string, d time.Duration, args ...string) map[string]bool {
	t.Helper()
	p := f.start(t, root, args...)
	time.Sleep(d)
	p.cmd.Process.Signal(syscall.SIGSTOP)
	ids := cgroupsUsed(p.cmd.Process.Pid)
	p.cmd.Process.Signal(syscall.SIGKILL)
	if code := p.wait(t); code != 0 && code != -1 {
		t.Errorf("strata %v ended on its own with exit %d before the kill: %s", args, code, p.stderr.String())
	}
	return ids
}

// checkNothingLeft checks that the containers ids (and every other) are gone from root: no
// mount under it, no cgroup of theirs, no process carrying marker (those found are killed,
// as this test made them, and reported).
func checkNothingLeft(t *testing.T, root, marker string, ids []string) {
	t.Helper()
	if m := mountsUnder(t, root); len(m) != 0 {
		t.Errorf("mounts left under the root: %v", m)
	}
	for _, id := range ids {
		if cg := cgroupsOf(id); len(cg) != 0 {
			t.Errorf("cgroups left of container %.12s: %v", id, cg)
		}
	}
	// A container process dies with its PID 1; give the kernel a moment to reap.
	var left []int
	for i := 0; i < 50; i++ {
		if left = markedProcs(t, marker); len(left) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("processes of the container left: %v", left)
	for _, pid := range left {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// checkContainerKilled checks what a killed run or rm must leave: ps -a lists the container
// as exited or dead or not at all, rm -f removes it, the next run sweeps, and nothing of it
// is left.
// With detached, a container that runs (its monitor started before the kill) is fine too.
func (f *concFixture) checkContainerKilled(t *testing.T, root, image, name, marker string, detached bool) {
	t.Helper()
	ps := mustRun(t, f.env, "", root, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Status}}")
	ids := containerIDs(t, f.env, root)
	t.Logf("ps -a after the kill: %q", ps.Stdout)
	for _, line := range strings.Split(strings.TrimSpace(ps.Stdout), "\n") {
		if line != "" && !strings.Contains(line, "Exited") && !strings.Contains(line, "Dead") && !strings.Contains(line, "Created") && !(detached && strings.Contains(line, " Up ")) {
			t.Errorf("ps -a after the kill lists %q: want it exited, dead or gone", line)
		}
	}
	if r := run(t, f.env, "", root, "rm", "-f", name); r.Code != 0 && !strings.Contains(r.Stderr, "no such container") {
		t.Errorf("rm -f %s after the kill: exit %d: %s", name, r.Code, r.Stderr)
	}
	mustRun(t, f.env, "", root, "run", "--rm", image, "true")
	if left := containerIDs(t, f.env, root); len(left) != 0 {
		t.Errorf("containers left after rm -f and a run: %v", left)
	}
	checkNothingLeft(t, root, marker, ids)
}

func TestKillPointsRunRm(t *testing.T) {
	requiresContainers(t)
	f := newConcFixture(t)
	root := newRoot(t)
	mustRun(t, f.env, "", root, "pull", "-q", f.a)
	// How long a run takes to start: a run of true, to its end.
	d := f.measure(t, root, "run", "--rm", f.a, "true")
	t.Logf("run --rm true takes %v", d)
	// Delays through the start, then two while it sleeps.
	ds := append(delays(d, killSteps()), d+300*time.Millisecond, d+time.Second)
	for i, delay := range ds {
		marker := fmt.Sprintf("kp-run-%d-%d", os.Getpid(), i)
		name := fmt.Sprintf("kprun%d", i)
		t.Cleanup(func() {
			for _, pid := range markedProcs(t, marker) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		})
		args := append([]string{"run", "--rm", "--name", name, f.a}, marked(marker, 5)...)
		used := f.stopAndKill(t, root, delay, args...)
		f.checkContainerKilled(t, root, f.a, name, marker, false)
		f.checkStaleCgroups(t, root, used, delay)
	}
}

// TestKillPointsRunUnpack kills the first run of an image, whose layers it unpacks first: the
// next run unpacks what is missing, and a prune leaves no half-made layer dir.
func TestKillPointsRunUnpack(t *testing.T) {
	requiresContainers(t)
	f := newConcFixture(t)
	const image = "conc/lc:1" // in f.archive: alpine and two more layers
	newLoaded := func() string {
		root := newRoot(t)
		mustRun(t, f.env, "", root, "load", "-q", "-i", f.archive)
		return root
	}
	d := f.measure(t, newLoaded(), "run", "--rm", image, "true")
	t.Logf("first run --rm true, unpacking, takes %v", d)
	for i, delay := range delays(d, max(killSteps()/2, 3)) {
		root := newLoaded()
		marker := fmt.Sprintf("kp-unpack-%d-%d", os.Getpid(), i)
		name := fmt.Sprintf("kpu%d", i)
		t.Cleanup(func() {
			for _, pid := range markedProcs(t, marker) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		})
		used := f.stopAndKill(t, root, delay, append([]string{"run", "--rm", "--name", name, image}, marked(marker, 5)...)...)
		f.checkContainerKilled(t, root, image, name, marker, false)
		f.checkStaleCgroups(t, root, used, delay)
		mustRun(t, f.env, "", root, "rmi", "conc/lb:1")
		mustRun(t, f.env, "", root, "prune")
		checkStore(t, root)
		checkNoLeftovers(t, root)
	}
}

func TestKillPointsRunDetached(t *testing.T) {
	requiresContainers(t)
	f := newConcFixture(t)
	root := newRoot(t)
	mustRun(t, f.env, "", root, "pull", "-q", f.a)
	d := f.measure(t, root, "run", "-d", "--name", "kpd", f.a, "true")
	mustRun(t, f.env, "", root, "rm", "-f", "kpd")
	t.Logf("run -d true takes %v", d)
	for i, delay := range delays(d, killSteps()) {
		marker := fmt.Sprintf("kp-runD-%d-%d", os.Getpid(), i)
		name := fmt.Sprintf("kpd%d", i)
		t.Cleanup(func() {
			for _, pid := range markedProcs(t, marker) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		})
		used := f.stopAndKill(t, root, delay, append([]string{"run", "-d", "--name", name, f.a}, marked(marker, 60)...)...)
		f.checkContainerKilled(t, root, f.a, name, marker, true)
		f.checkStaleCgroups(t, root, used, delay)
	}
}

func TestKillPointsRmForce(t *testing.T) {
	requiresContainers(t)
	f := newConcFixture(t)
	root := newRoot(t)
	mustRun(t, f.env, "", root, "pull", "-q", f.a)
	startOne := func(name, marker string) {
		t.Cleanup(func() {
			for _, pid := range markedProcs(t, marker) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		})
		mustRun(t, f.env, "", root, append([]string{"run", "-d", "--name", name, f.a}, marked(marker, 60)...)...)
	}
	startOne("kprm", "kp-rm-measure")
	d := f.measure(t, root, "rm", "-f", "kprm")
	t.Logf("rm -f of a running container takes %v", d)
	checkNothingLeft(t, root, "kp-rm-measure", nil)
	for i, delay := range delays(d, killSteps()) {
		marker := fmt.Sprintf("kp-rm-%d-%d", os.Getpid(), i)
		name := fmt.Sprintf("kprm%d", i)
		startOne(name, marker)
		ids := containerIDs(t, f.env, root)
		used := f.stopAndKill(t, root, delay, "rm", "-f", name)
		// The container may still run (rm was killed before it stopped it): ps -a shows
		// it as it is; a second rm -f must finish the job.
		if r := run(t, f.env, "", root, "rm", "-f", name); r.Code != 0 && !strings.Contains(r.Stderr, "no such container") {
			t.Errorf("rm -f %s after a killed rm -f: exit %d: %s", name, r.Code, r.Stderr)
		}
		if left := containerIDs(t, f.env, root); len(left) != 0 {
			t.Errorf("containers left after rm -f: %v", left)
		}
		checkNothingLeft(t, root, marker, ids)
		f.checkStaleCgroups(t, root, used, delay)
	}
}

// checkStaleCgroups checks the cgroups that the killed strata used (used) once its container
// is removed: a run killed between making its container's cgroup and its container dir
// leaves it (see cgroups.Sweep). It must hold no process, and rm's sweep must delete it once
// stale: the test ages it rather than wait the grace (cgroups.StaleAge, 5 s) that guards a
// cgroup an older strata, which takes no parent lock, has just made.
func (f *concFixture) checkStaleCgroups(t *testing.T, root string, used map[string]bool, delay time.Duration) {
	t.Helper()
	var left []string
	for id := range used {
		if len(cgroupsOf(id)) != 0 {
			left = append(left, id)
		}
	}
	if len(left) == 0 {
		return
	}
	t.Logf("kill at %v left the cgroups of no container %v: aging them for rm's sweep", delay, left)
	old := time.Now().Add(-2 * time.Minute)
	for _, id := range left {
		for _, dir := range cgroupsOf(id) {
			if b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err == nil && len(strings.Fields(string(b))) != 0 {
				var who []string
				for _, pid := range strings.Fields(string(b)) {
					cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
					who = append(who, fmt.Sprintf("%s %q", pid, cmd))
				}
				t.Errorf("cgroup %s that no container names holds processes: %s", dir, strings.Join(who, ", "))
			}
			os.Chtimes(dir, old, old)
		}
	}
	// One still exiting (its list is empty, the cgroup not yet) keeps it from the sweep.
	for _, id := range left {
		waitCgroupIdle(t, id)
	}
	run(t, f.env, "", root, "rm", "-f", "kp-nosuch") // fails: no such container; sweeps
	for _, id := range left {
		if cg := cgroupsOf(id); len(cg) != 0 {
			t.Errorf("kill at %v: cgroups no container names left after rm's sweep: %v", delay, cg)
		}
	}
}
