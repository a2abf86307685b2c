package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Crash consistency, broadly: every command that writes the store or a container's record is
// SIGKILLed (by the PID of the strata this test started, or by strace at its Nth call of a
// chosen syscall) at points drawn from a fixed seed, and after each kill:
//   - images, ps -a, system df and inspect of everything they list work;
//   - the same command run again completes (or fails only as it would on the state the kill
//     left, e.g. a name the killed run already took);
//   - once its containers are removed, nothing of them is left: no mount under the root, no
//     cgroup, no process;
//   - a prune leaves no blob, layer dir, partial download or temp file that no image uses, and
//     at the end a prune -a leaves an empty store.
// The killpoints tests sweep pull, load, prune, run and rm -f by delay alone; this one adds
// pull from a strata serve, save, tag, rmi, image prune, create, start, stop and rename, and
// the strace kill points, which land where a delay hardly ever does (between a temp file's
// write and its rename, between a cgroup's mkdir and the record that names it).

// crash2Seed fixes the kill points: the same seed kills at the same delays and syscalls
// ($STRATA_CRASH2_SEED draws others).
func crash2Seed() int64 {
	if n, err := strconv.ParseInt(os.Getenv("STRATA_CRASH2_SEED"), 10, 64); err == nil {
		return n
	}
	return 20261130
}

// crash2Iters is how many kills each command gets: $STRATA_CRASH2_ITERS to search harder.
func crash2Iters() int {
	if n, err := strconv.Atoi(os.Getenv("STRATA_CRASH2_ITERS")); err == nil && n > 0 {
		return n
	}
	if testing.Short() {
		return 1
	}
	return 2
}

// crashOp is one command killed over and over on its own root.
type crashOp struct {
	name string
	// args is the command killed; setup brings the root to the state it runs on.
	args  []string
	setup func(t *testing.T, c *crash2, root string)
	// rerunOK accepts a failure of the command run again after the kill (nil: none).
	rerunOK func(r result) bool
	// syscalls are those the strace kill points are drawn from.
	syscalls []string
	// containers says the command makes or changes containers: it needs a machine that runs
	// them, and each iteration ends by removing them and checking nothing is left.
	containers bool
	// follow has strace follow the monitor and the container's init as well: their kill is
	// the crash tested (the command must end by itself: strace waits for all it follows).
	follow bool
	// killed checks what the kill, before anything else ran but the readers, must have left.
	killed func(t *testing.T, c *crash2, root, how string)
	// after checks what the command, run to its end again, must have made.
	after func(t *testing.T, c *crash2, root string)
}

type crash2 struct {
	f        *concFixture
	serve    string // host:port of a strata serve of another root holding conc/lb:1, conc/lc:1
	strace   string // strace's path, "" when there is none
	rnd      *rand.Rand
	out      string // save's output
	markerID string
}

const crash2Image = "conc/lb:1" // in the fixture's archive: alpine and one more layer

func TestCrashKill2(t *testing.T) {
	f := newConcFixture(t)
	c := &crash2{f: f, rnd: rand.New(rand.NewSource(crash2Seed())), out: filepath.Join(t.TempDir(), "out.tar")}
	if p, err := exec.LookPath("strace"); err == nil {
		c.strace = p
	} else {
		t.Log("no strace: kill points by delay only")
	}
	c.serve = c.startServe(t)
	loaded := func(t *testing.T, c *crash2, root string) {
		mustRun(t, c.f.env, "", root, "load", "-q", "-i", c.f.archive)
	}
	storeCalls := []string{"renameat", "unlinkat", "fsync", "openat", "flock", "write"}
	ctrCalls := []string{"renameat", "unlinkat", "mkdirat", "fsync", "mount", "kill", "write", "openat", "rmdir"}
	notIn := func(r result) bool { return strings.Contains(r.Stderr, "is not in the store") }
	inUse := func(r result) bool { return strings.Contains(r.Stderr, "is already in use") }
	served := c.serve + "/conc/lc:1"
	ops := []crashOp{
		{name: "pull-serve", args: []string{"pull", "-q", served}, syscalls: storeCalls,
			setup: func(t *testing.T, c *crash2, root string) { run(t, c.f.env, "", root, "rmi", served) },
			after: func(t *testing.T, c *crash2, root string) { c.checkSaves(t, root, served) }},
		{name: "load", args: []string{"load", "-q", "-i", f.archive}, syscalls: storeCalls,
			setup: func(t *testing.T, c *crash2, root string) { run(t, c.f.env, "", root, "rmi", "conc/lb:1", "conc/lc:1") },
			after: func(t *testing.T, c *crash2, root string) { c.checkSaves(t, root, "conc/lb:1", "conc/lc:1") }},
		{name: "save", args: []string{"save", "-o", c.out, "conc/lb:1", "conc/lc:1"}, syscalls: storeCalls,
			setup: func(t *testing.T, c *crash2, root string) {
				os.Remove(c.out)
				loaded(t, c, root)
			},
			after: func(t *testing.T, c *crash2, root string) {
				mustRun(t, c.f.env, "", newRoot(t), "load", "-q", "-i", c.out)
			}},
		{name: "tag", args: []string{"tag", "conc/lc:1", "conc/t:1"}, syscalls: storeCalls,
			setup: func(t *testing.T, c *crash2, root string) {
				loaded(t, c, root)
				run(t, c.f.env, "", root, "rmi", "conc/t:1")
			},
			after: func(t *testing.T, c *crash2, root string) { c.checkSaves(t, root, "conc/t:1") }},
		{name: "rmi", args: []string{"rmi", "conc/lc:1"}, syscalls: storeCalls, rerunOK: notIn, setup: loaded,
			after: func(t *testing.T, c *crash2, root string) { c.checkSaves(t, root, "conc/lb:1") }},
		{name: "prune", args: []string{"prune"}, syscalls: storeCalls,
			setup: func(t *testing.T, c *crash2, root string) {
				// An image whose blobs and layer dirs a prune must collect: pulled, then
				// untagged by hand (rmi would collect them itself).
				loaded(t, c, root)
				mustRun(t, c.f.env, "", root, "run", "--rm", "conc/lc:1", "true")
				untagByHand(t, root, "conc/lc:1")
			}, containers: true},
		{name: "prune-a", args: []string{"prune", "-a"}, syscalls: storeCalls, setup: loaded,
			after: func(t *testing.T, c *crash2, root string) { c.checkEmpty(t, root) }},
		{name: "image-prune-a", args: []string{"image", "prune", "-a", "-f"}, syscalls: storeCalls,
			setup: func(t *testing.T, c *crash2, root string) {
				loaded(t, c, root)
				mustRun(t, c.f.env, "", root, "run", "--rm", "conc/lc:1", "true")
			},
			after: func(t *testing.T, c *crash2, root string) { c.checkEmpty(t, root) }, containers: true},
		{name: "run-d", args: c.runArgs("run", "-d", 60), syscalls: ctrCalls, rerunOK: inUse, containers: true, setup: c.rmK,
			after: func(t *testing.T, c *crash2, root string) { c.checkRunning(t, root, true) }},
		{name: "run-d-monitor", args: c.runArgs("run", "-d", 0), syscalls: ctrCalls, rerunOK: inUse, containers: true, follow: true,
			setup: c.rmK},
		{name: "start-monitor", args: []string{"start", "kc"}, syscalls: ctrCalls, containers: true, follow: true,
			setup: func(t *testing.T, c *crash2, root string) {
				c.rmK(t, c, root)
				mustRun(t, c.f.env, "", root, c.runArgs("create", "", 0)...)
			}},
		{name: "run-rm-monitor", args: c.runArgs("run", "--rm", 0), syscalls: ctrCalls, rerunOK: inUse, containers: true, follow: true,
			setup: c.rmK, killed: c.noRmLeft},
		{name: "run-rm", args: c.runArgs("run", "--rm", 0), syscalls: ctrCalls, rerunOK: inUse, containers: true, setup: c.rmK,
			killed: c.noRmLeft},
		{name: "create", args: c.runArgs("create", "", 60), syscalls: ctrCalls, rerunOK: inUse, containers: true, setup: c.rmK,
			after: func(t *testing.T, c *crash2, root string) { c.checkRunning(t, root, false) }},
		{name: "start", args: []string{"start", "kc"}, syscalls: ctrCalls, containers: true,
			setup: func(t *testing.T, c *crash2, root string) {
				c.rmK(t, c, root)
				mustRun(t, c.f.env, "", root, c.runArgs("create", "", 60)...)
			},
			after: func(t *testing.T, c *crash2, root string) { c.checkRunning(t, root, true) }},
		{name: "stop", args: []string{"stop", "-t", "0", "kc"}, syscalls: ctrCalls, containers: true,
			setup: func(t *testing.T, c *crash2, root string) {
				c.rmK(t, c, root)
				mustRun(t, c.f.env, "", root, c.runArgs("run", "-d", 60)...)
			},
			after: func(t *testing.T, c *crash2, root string) { c.checkRunning(t, root, false) }},
		{name: "rm-f", args: []string{"rm", "-f", "kc"}, syscalls: ctrCalls, containers: true,
			setup: func(t *testing.T, c *crash2, root string) {
				c.rmK(t, c, root)
				mustRun(t, c.f.env, "", root, c.runArgs("run", "-d", 60)...)
			},
			after: func(t *testing.T, c *crash2, root string) {
				if ids := containerIDs(t, c.f.env, root); len(ids) != 0 {
					t.Errorf("rm -f kc run again left containers %v", ids)
				}
			}},
		{name: "restart-rm", args: []string{"restart", "-t", "0", "kc"}, syscalls: ctrCalls, containers: true,
			// Killed once the container stopped, the restart no longer speaks for it: its
			// monitor removes it, as --rm says.
			rerunOK: func(r result) bool { return strings.Contains(r.Stderr, "kc: no such container") },
			setup: func(t *testing.T, c *crash2, root string) {
				c.rmK(t, c, root)
				mustRun(t, c.f.env, "", root, append([]string{"run", "-d", "--rm"}, c.runArgs("run", "", 60)[1:]...)...)
			}},
		{name: "rename", args: []string{"rename", "kc", "kc2"}, syscalls: ctrCalls, containers: true,
			rerunOK: func(r result) bool { return strings.Contains(r.Stderr, "kc: no such container") },
			setup: func(t *testing.T, c *crash2, root string) {
				c.rmK(t, c, root)
				run(t, c.f.env, "", root, "rm", "-f", "kc2")
				mustRun(t, c.f.env, "", root, c.runArgs("run", "-d", 60)...)
			},
			after: func(t *testing.T, c *crash2, root string) {
				ps := mustRun(t, c.f.env, "", root, "ps", "-a", "--format", "{{.Names}} {{.Status}}").Stdout
				if !strings.HasPrefix(ps, "kc2 Up") || strings.Count(ps, "\n") != 1 {
					t.Errorf("after rename kc kc2 run again, ps -a = %q, want kc2 alone, up", ps)
				}
			}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			if op.containers {
				requiresContainers(t)
			}
			c.sweep(t, op)
		})
	}
	t.Run("mixed", func(t *testing.T) {
		requiresContainers(t)
		c.mixed(t, served)
	})
}

// mixed runs commands drawn from the seed on one root, each killed at a point drawn too or
// left to finish, so that one kill's leftovers meet the next command (a rename killed, then
// an rm -f killed, then a run of the old name): after each, the readers work and every
// container process belongs to a container said to run; at the end rm -f of everything
// leaves nothing, and prune -a an empty store.
func (c *crash2) mixed(t *testing.T, served string) {
	root := newRoot(t)
	mustRun(t, c.f.env, "", root, "load", "-q", "-i", c.f.archive)
	cmds := [][]string{
		c.runArgs("run", "-d", 60),
		c.runArgs("run", "--rm", 0),
		c.runArgs("create", "", 60),
		{"start", "kc"}, {"start", "kc2"},
		{"stop", "-t", "0", "kc"},
		{"rm", "-f", "kc"}, {"rm", "-f", "kc2"},
		{"rename", "kc", "kc2"}, {"rename", "kc2", "kc"},
		{"kill", "kc"}, {"restart", "-t", "0", "kc"},
		c.runArgs("run", "-d", 60), c.runArgs("create", "", 60), {"start", "kc"}, {"rm", "-f", "kc"},
		{"pull", "-q", served},
		{"load", "-q", "-i", c.f.archive},
		{"tag", "conc/lc:1", "conc/t:1"},
		{"rmi", "conc/t:1"}, {"rmi", "conc/lc:1"}, {"rmi", "-f", crash2Image},
		{"prune"}, {"prune", "-a"}, {"image", "prune", "-f"},
		{"save", "-o", c.out, crash2Image},
	}
	steps := 3 * crash2Iters() * 2
	killed := 0
	for i := 0; i < steps; i++ {
		args := cmds[c.rnd.Intn(len(cmds))]
		how := fmt.Sprintf("step %d: %v", i, args)
		if !strings.Contains(mustRun(t, c.f.env, "", root, "images").Stdout, "conc/lb") {
			mustRun(t, c.f.env, "", root, "load", "-q", "-i", c.f.archive)
		}
		var used map[string]bool
		switch k := c.rnd.Intn(3); {
		case k == 0:
			// To its end: it may fail (no such container, image gone), never hang.
			p := c.f.start(t, root, args...)
			if code := p.wait(t); code != 0 {
				p.oneLine(t)
			}
		case k == 1 && c.strace != "":
			sc := []string{"renameat", "unlinkat", "mkdirat", "fsync", "write", "openat", "kill", "mount"}[c.rnd.Intn(8)]
			n := 1 + c.rnd.Intn(4)
			how += fmt.Sprintf(" killed at %s #%d", sc, n)
			var wasKilled bool
			wasKilled, used = c.straceKill(t, root, false, sc, n, args...)
			if wasKilled {
				killed++
			}
		default:
			delay := time.Duration(c.rnd.Int63n(int64(200 * time.Millisecond)))
			how += fmt.Sprintf(" killed after %v", delay)
			p := c.f.start(t, root, args...)
			time.Sleep(delay)
			p.cmd.Process.Signal(syscall.SIGSTOP)
			used = cgroupsUsed(p.cmd.Process.Pid)
			p.cmd.Process.Signal(syscall.SIGKILL)
			if p.wait(t) == -1 {
				killed++
			}
		}
		c.checkReadable(t, root, how)
		c.checkRunningReal(t, root, how)
		checkStore(t, root)
		if len(used) != 0 && len(containerIDs(t, c.f.env, root)) == 0 {
			c.f.checkStaleCgroups(t, root, used, 0)
		}
		if t.Failed() {
			t.Logf("failed at %s", how)
			break
		}
	}
	t.Logf("%d of %d steps killed before they ended", killed, steps)
	c.removeContainers(t, root, nil, "the mixed steps")
	mustRun(t, c.f.env, "", root, "prune", "-a")
	checkStore(t, root)
	c.checkEmpty(t, root)
}

// runArgs is a run or create of crash2Image named kc whose processes carry the test's marker.
func (c *crash2) runArgs(verb, flag string, secs int) []string {
	args := []string{verb}
	if flag != "" {
		args = append(args, flag)
	}
	return append(append(args, "--name", "kc", crash2Image), marked(c.marker(), secs)...)
}

func (c *crash2) marker() string {
	if c.markerID == "" {
		c.markerID = fmt.Sprintf("crash2-%d", os.Getpid())
	}
	return c.markerID
}

func (c *crash2) rmK(t *testing.T, _ *crash2, root string) {
	run(t, c.f.env, "", root, "rm", "-f", "kc")
}

// noRmLeft checks that a --rm container whose run was killed does not linger: once its
// command ended (at once: it sleeps 0) and its monitor with it, if it had one, the next
// listing removes it, as docker never lets a --rm container stay.
func (c *crash2) noRmLeft(t *testing.T, _ *crash2, root, how string) {
	t.Helper()
	var ps string
	for try := 0; try < 30; try++ {
		ps = mustRun(t, c.f.env, "", root, "ps", "-a", "--format", "{{.Names}} {{.Status}}").Stdout
		if ps == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("after %s: a --rm container stays listed 3 s on: %q", how, ps)
}

// startServe serves a root loaded with the fixture's archive, on 127.0.0.1, until the test ends.
func (c *crash2) startServe(t *testing.T) string {
	t.Helper()
	src := newRoot(t)
	mustRun(t, c.f.env, "", src, "load", "-q", "-i", c.f.archive)
	addr := freePort(t)
	p := c.f.start(t, src, "serve", "--addr", addr)
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.wait(t)
	})
	for i := 0; ; i++ {
		r := run(t, c.f.env, "", newRoot(t), "pull", "-q", addr+"/conc/lb:1")
		if r.Code == 0 {
			return addr
		}
		if i == 100 {
			t.Fatalf("strata serve on %s: a pull fails: %s (serve: %s)", addr, r.Stderr, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// untagByHand removes ref's entry from index.json as a killed rmi could have left it: the
// image's blobs and layer dirs stay for a prune to collect.
func untagByHand(t *testing.T, root, ref string) {
	t.Helper()
	p := filepath.Join(root, "oci", "index.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var idx map[string]any
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	ms, _ := idx["manifests"].([]any)
	var keep []any
	for _, m := range ms {
		a, _ := m.(map[string]any)["annotations"].(map[string]any)
		if name, _ := a["org.opencontainers.image.ref.name"].(string); name == ref || strings.HasSuffix(name, "/"+ref) {
			continue
		}
		keep = append(keep, m)
	}
	if len(keep) == len(ms) {
		t.Fatalf("no entry for %s in %s", ref, b)
	}
	idx["manifests"] = keep
	if b, err = json.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sweep kills op.args iterations times, alternating a delay and, with strace, a syscall.
func (c *crash2) sweep(t *testing.T, op crashOp) {
	root := newRoot(t)
	mustRun(t, c.f.env, "", root, "load", "-q", "-i", c.f.archive)
	// One whole run first: how long it takes, and how often each syscall comes per thread.
	// One whole run: how long it takes (under strace, which slows it about twice), and how
	// often each syscall comes per thread.
	op.setup(t, c, root)
	start := time.Now()
	counts := map[string]int{}
	if c.strace != "" {
		counts = c.straceCounts(t, root, op)
		d := time.Since(start) / 2
		c.afterKill(t, op, root, nil, "a whole run under strace")
		c.sweepKills(t, op, root, d, counts)
		return
	}
	mustRun(t, c.f.env, "", root, op.args...)
	d := time.Since(start)
	c.afterKill(t, op, root, nil, "a whole run")
	c.sweepKills(t, op, root, d, counts)
}

// sweepKills is sweep's kills of op, which takes about d, with counts of its syscalls.
func (c *crash2) sweepKills(t *testing.T, op crashOp, root string, d time.Duration, counts map[string]int) {
	killed := 0
	// $STRATA_CRASH2_SWEEP=N kills at every syscall's first N calls in a thread (all of
	// them up to N) instead of the drawn points: a search, too long for make test.
	type point struct {
		sc string
		n  int
	}
	var points []point
	if n, _ := strconv.Atoi(os.Getenv("STRATA_CRASH2_SWEEP")); n > 0 && c.strace != "" {
		for _, sc := range op.syscalls {
			for i := 1; i <= min(n, counts[sc]); i++ {
				points = append(points, point{sc, i})
			}
		}
	}
	iters := crash2Iters()
	if len(points) != 0 {
		iters = 2 * len(points)
	}
	for i := 0; i < iters; i++ {
		op.setup(t, c, root)
		var used map[string]bool
		var how string
		var wasKilled bool
		if c.strace != "" && i%2 == 1 {
			sc := op.syscalls[c.rnd.Intn(len(op.syscalls))]
			n := 1
			if counts[sc] > 0 {
				n = 1 + c.rnd.Intn(counts[sc])
			}
			if len(points) != 0 {
				sc, n = points[i/2].sc, points[i/2].n
			}
			how = fmt.Sprintf("strace kill at %s #%d", sc, n)
			wasKilled, used = c.straceKill(t, root, op.follow, sc, n, op.args...)
		} else {
			delay := time.Duration(c.rnd.Int63n(int64(min(300*time.Millisecond, d+d/4)) + 1))
			how = fmt.Sprintf("kill after %v", delay)
			p := c.f.start(t, root, op.args...)
			time.Sleep(delay)
			p.cmd.Process.Signal(syscall.SIGSTOP)
			used = cgroupsUsed(p.cmd.Process.Pid)
			p.cmd.Process.Signal(syscall.SIGKILL)
			code := p.wait(t)
			wasKilled = code == -1
			if code != 0 && code != -1 {
				t.Errorf("%s: strata %v ended with exit %d before the kill: %s", how, op.args, code, p.stderr.String())
			}
		}
		if wasKilled {
			killed++
		}
		c.afterKill(t, op, root, used, how)
		if t.Failed() {
			t.Logf("failed after %s (iteration %d)", how, i)
			break
		}
	}
	t.Logf("%s: %d of %d killed before they ended (a whole run: %v, %v)", op.name, killed, iters, d, counts)
	// The end: every container removed, a prune -a leaves nothing.
	c.removeContainers(t, root, nil, "end")
	mustRun(t, c.f.env, "", root, "prune", "-a")
	c.checkEmpty(t, root)
}

// afterKill checks root after op was killed (how says where), runs op again and checks what
// it made, then removes the containers and checks that nothing is left.
func (c *crash2) afterKill(t *testing.T, op crashOp, root string, used map[string]bool, how string) {
	t.Helper()
	c.checkReadable(t, root, how)
	if op.containers {
		c.checkRunningReal(t, root, how)
	}
	if op.killed != nil {
		op.killed(t, c, root, how)
	}
	r := run(t, c.f.env, "", root, op.args...)
	if r.Code != 0 && (op.rerunOK == nil || !op.rerunOK(r)) {
		t.Errorf("after %s: strata %v run again: exit %d: %s", how, op.args, r.Code, r.Stderr)
	}
	if r.Code != 0 && strings.Contains(r.Stderr, "is already in use") {
		// The killed run made the container: once it is removed the command completes.
		mustRun(t, c.f.env, "", root, "rm", "-f", "kc")
		mustRun(t, c.f.env, "", root, op.args...)
	}
	c.checkReadable(t, root, how+", then run again")
	if op.after != nil {
		op.after(t, c, root)
	}
	if op.containers {
		c.removeContainers(t, root, used, how)
	}
	mustRun(t, c.f.env, "", root, "prune")
	checkStore(t, root)
	checkStoreComplete(t, root)
	checkNoLeftovers(t, root)
}

// checkReadable runs the commands that read the store and the records: each must work, and
// inspect too on every image and container they list.
func (c *crash2) checkReadable(t *testing.T, root, how string) {
	t.Helper()
	var images, ctrs []string
	for _, args := range [][]string{{"images", "-q", "--no-trunc"}, {"ps", "-a", "-q", "--no-trunc"}, {"system", "df", "-v"}} {
		r := run(t, c.f.env, "", root, args...)
		if r.Code != 0 {
			t.Errorf("after %s: strata %v: exit %d: %s", how, args, r.Code, r.Stderr)
			continue
		}
		switch strings.Join(args, " ") {
		case "images -q --no-trunc":
			images = strings.Fields(r.Stdout)
		case "ps -a -q --no-trunc":
			ctrs = strings.Fields(r.Stdout)
		}
	}
	for _, id := range ctrs {
		if r := run(t, c.f.env, "", root, "inspect", id); r.Code != 0 {
			if strings.Contains(r.Stderr, "no such object") && !slices.Contains(containerIDs(t, c.f.env, root), id) {
				continue // a --rm container its monitor removed since ps listed it
			}
			t.Errorf("after %s: inspect of container %s that ps -a lists: exit %d: %s", how, id, r.Code, r.Stderr)
		}
	}
	for _, id := range images {
		if r := run(t, c.f.env, "", root, "image", "inspect", id); r.Code != 0 {
			t.Errorf("after %s: image inspect of %s that images lists: exit %d: %s", how, id, r.Code, r.Stderr)
		}
	}
}

// removeContainers rm -f's every container, then checks that nothing of them, nor of the
// cgroups the killed strata used, is left.
func (c *crash2) removeContainers(t *testing.T, root string, used map[string]bool, how string) {
	t.Helper()
	ids := containerIDs(t, c.f.env, root)
	if len(ids) != 0 {
		mustRun(t, c.f.env, "", root, append([]string{"rm", "-f"}, ids...)...)
	}
	if left := containerIDs(t, c.f.env, root); len(left) != 0 {
		t.Errorf("after %s: rm -f left containers %v", how, left)
	}
	checkNothingLeft(t, root, c.marker(), ids)
	c.checkContainersDirEmpty(t, root, how)
	if p := procsUsing(root); len(p) != 0 {
		t.Errorf("after %s and rm -f of every container: processes still hold files under the root: %v", how, p)
	}
	if len(used) != 0 {
		c.f.checkStaleCgroups(t, root, used, 0)
	}
}

// checkContainersDirEmpty checks that the store of containers, with none left, holds only its
// lock and its index of names, and no name in it.
func (c *crash2) checkContainersDirEmpty(t *testing.T, root, how string) {
	t.Helper()
	dir := filepath.Join(root, "containers")
	ents, _ := os.ReadDir(dir)
	aged := false
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".removing-") {
			// A removal killed after it renamed the dir away: the next sweep removes it,
			// once it is older than the grace a removal at work gets (aged here).
			old := time.Now().Add(-time.Minute)
			os.Chtimes(filepath.Join(dir, e.Name()), old, old)
			aged = true
		}
	}
	if aged {
		run(t, c.f.env, "", root, "rm", "-f", "crash2-nosuch") // fails: no such container; sweeps
		ents, _ = os.ReadDir(dir)
	}
	for _, e := range ents {
		switch e.Name() {
		case ".lock":
		case ".names":
			names, _ := os.ReadDir(filepath.Join(dir, e.Name()))
			for _, n := range names {
				t.Logf("after %s and rm -f of every container: stale name link .names/%s", how, n.Name())
			}
		default:
			t.Errorf("after %s and rm -f of every container: containers/%s left", how, e.Name())
		}
	}
}

// checkRunningReal checks that every process carrying marker belongs to a container that
// inspect says runs (its State.Pid or a descendant), and that each container said to run
// has its PID alive.
func (c *crash2) checkRunningReal(t *testing.T, root, how string) {
	t.Helper()
	// A monitor the killed strata started goes on, and may be writing the state it runs in:
	// the check is given a second to hold.
	var bad []string
	for try := 0; try < 10; try++ {
		if bad = c.runningUnowned(t, root); len(bad) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, b := range bad {
		t.Errorf("after %s: %s", how, b)
	}
}

func (c *crash2) runningUnowned(t *testing.T, root string) []string {
	t.Helper()
	var bad []string
	owned := map[int]bool{}
	for _, id := range containerIDs(t, c.f.env, root) {
		r := run(t, c.f.env, "", root, "inspect", "-f", "{{.State.Running}} {{.State.Pid}}", id)
		if r.Code != 0 {
			bad = append(bad, fmt.Sprintf("inspect %s: %s", id, r.Stderr))
			continue
		}
		f := strings.Fields(r.Stdout)
		if len(f) != 2 || f[0] != "true" {
			continue
		}
		pid, _ := strconv.Atoi(f[1])
		if pid <= 0 || syscall.Kill(pid, 0) != nil {
			bad = append(bad, fmt.Sprintf("container %.12s is said to run as PID %d, which is not alive", id, pid))
			continue
		}
		for _, p := range descendants(pid) {
			owned[p] = true
		}
	}
	for _, pid := range markedProcs(t, c.marker()) {
		if !owned[pid] {
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			bad = append(bad, fmt.Sprintf("process %d %q of a container that no container record says runs", pid, cmd))
		}
	}
	return bad
}

// procsUsing lists the processes (but this one) with a file, cwd or root under dir.
func procsUsing(dir string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		links := []string{"/proc/" + e.Name() + "/cwd", "/proc/" + e.Name() + "/root"}
		fds, _ := os.ReadDir("/proc/" + e.Name() + "/fd")
		for _, fd := range fds {
			links = append(links, "/proc/"+e.Name()+"/fd/"+fd.Name())
		}
		for _, l := range links {
			if target, err := os.Readlink(l); err == nil && (target == dir || strings.HasPrefix(target, dir+"/")) {
				cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
				out = append(out, fmt.Sprintf("%d %q: %s", pid, cmd, target))
				break
			}
		}
	}
	return out
}

// checkSaves checks each ref is listed and whole: a save of it writes an archive.
func (c *crash2) checkSaves(t *testing.T, root string, refs ...string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "check.tar")
	for _, ref := range refs {
		if r := run(t, c.f.env, "", root, "save", "-o", out, ref); r.Code != 0 {
			t.Errorf("save of %s: exit %d: %s", ref, r.Code, r.Stderr)
		}
	}
}

// checkRunning checks container kc is there, running or not as want.
func (c *crash2) checkRunning(t *testing.T, root string, want bool) {
	t.Helper()
	r := mustRun(t, c.f.env, "", root, "inspect", "-f", "{{.State.Running}}", "kc")
	if got := strings.TrimSpace(r.Stdout) == "true"; got != want {
		t.Errorf("container kc running: %v, want %v", got, want)
	}
}

// checkEmpty checks root's store holds nothing: no image, blob or layer dir.
func (c *crash2) checkEmpty(t *testing.T, root string) {
	t.Helper()
	if r := mustRun(t, c.f.env, "", root, "images", "-q"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("images after prune -a with no container: %q", r.Stdout)
	}
	for _, dir := range []string{"oci/blobs/sha256", "snapshots", "snapshots/.locks", "snapshots/.proven", "snapshots/.prints", "oci/ingest"} {
		ents, _ := os.ReadDir(filepath.Join(root, dir))
		for _, e := range ents {
			if dir == "snapshots" && (e.Name() == ".locks" || e.Name() == ".proven" || e.Name() == ".prints" || e.Name() == ".overlay-ok") {
				continue // the layer locks', proofs' and fingerprints' dirs, checked themselves, and the overlay probe's mark
			}
			if dir == "snapshots" && strings.HasPrefix(e.Name(), ".probe-") {
				// A probe's dir whose process was killed: prune takes it once it is older
				// than another process's probe in progress can be (snapshotter.probeMaxAge).
				continue
			}
			t.Errorf("left in %s after prune -a with no container: %s", dir, e.Name())
		}
	}
}

// straceCounts runs op.args to its end under strace and returns, for each of op.syscalls,
// the most calls one thread made of it.
func (c *crash2) straceCounts(t *testing.T, root string, op crashOp) map[string]int {
	t.Helper()
	log := filepath.Join(t.TempDir(), "strace.log")
	cmd := exec.Command(c.strace, append(append(straceFollow(op.follow), "-o", log, "-e", "trace="+strings.Join(op.syscalls, ","), strataBin, "--root", root), op.args...)...)
	cmd.Env = c.f.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("strata %v under strace: %v: %s", op.args, err, out)
	}
	perThread := map[string]int{}
	counts := map[string]int{}
	fh, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[1], "<...") {
			continue
		}
		name, _, ok := strings.Cut(f[1], "(")
		if !ok {
			continue
		}
		k := f[0] + " " + name
		perThread[k]++
		counts[name] = max(counts[name], perThread[k])
	}
	return counts
}

// straceFollow is strace's options to follow strata's threads and children: with follow, the
// monitor and the container's init too (the kill may land in them), else each child only
// until it execs.
func straceFollow(follow bool) []string {
	if follow {
		return []string{"-f", "-qq"}
	}
	return []string{"-f", "-qq", "-b", "execve"}
}

// cgroupMkdirRe matches strace's line for a container cgroup's mkdir.
var cgroupMkdirRe = regexp.MustCompile(`mkdirat\(AT_FDCWD, "/sys/fs/cgroup/(?:[^/"]+/)?strata/([0-9a-f]{64})"`)

// straceKill runs strata args on root under strace, which SIGKILLs it at its nth call of sc
// in any one thread (children are left alone once they exec: the monitor, the container). It
// reports whether strata was killed, and the container cgroups it made.
func (c *crash2) straceKill(t *testing.T, root string, follow bool, sc string, n int, args ...string) (bool, map[string]bool) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "strace.log")
	cmd := exec.Command(c.strace, append(append(straceFollow(follow), "-o", log,
		"-e", "trace=mkdirat,"+sc, "-e", fmt.Sprintf("inject=%s:signal=SIGKILL:when=%d", sc, n),
		strataBin, "--root", root), args...)...)
	cmd.Env = c.f.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Errorf("strace of strata %v still running after a minute: killed", args)
	}
	code := cmd.ProcessState.ExitCode()
	if code != 0 && code != -1 {
		// The kill landed in a child before its exec (strace follows it until then): strata
		// lived on to fail. The root must be as whole all the same.
		t.Logf("strata %v under strace (%s #%d) ended with exit %d: %s", args, sc, n, code, stderr.String())
	}
	used := map[string]bool{}
	if b, err := os.ReadFile(log); err == nil {
		for _, m := range cgroupMkdirRe.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	return code == -1, used
}
