package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// promptly runs strata args on root and returns its result, failing the test when it has not
// ended within d: a command that waits for a create stopped while it prepares its container
// would wait for good. It is killed then, by its PID.
func (f *concFixture) promptly(t *testing.T, d time.Duration, root string, args ...string) result {
	t.Helper()
	cmd := exec.Command(strataBin, append([]string{"--root", root}, args...)...)
	cmd.Env = f.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting strata %v: %v", args, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		t.Fatalf("strata %s still running after %v while another create prepares its container: it waits for it", strings.Join(args, " "), d)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// TestCreateSlowPrepare: a create (or run) that takes long to prepare its container (its
// root, a VOLUME of many files to copy: here stopped there, STRATA_TEST_STOP_AT=preparing)
// holds the store lock only to reserve the name and make the dir. Meanwhile ps, another run
// and create, rm and rename answer at once; none lists, finds, sweeps or removes the half-made
// container, and its name stays taken. Let go, the create completes a whole container. A
// create killed there leaves a dead container that rm removes, as before.
func TestCreateSlowPrepare(t *testing.T) {
	requiresContainers(t)
	f := newConcFixture(t)
	root := newRoot(t)
	mustRun(t, f.env, "", root, "pull", "-q", f.a)
	const prompt = 20 * time.Second

	checkHidden := func(name, id string) {
		t.Helper()
		r := f.promptly(t, prompt, root, "ps", "-a", "--format", "{{.Names}}")
		if r.Code != 0 || slices.Contains(strings.Fields(r.Stdout), name) {
			t.Errorf("ps -a while %s is prepared: exit %d, lists %q; want it left out: %s", name, r.Code, r.Stdout, r.Stderr)
		}
		// rm -f of a container it does not find says so and exits 0, as docker rm -f.
		if r := f.promptly(t, prompt, root, "rm", "-f", name); r.Code != 0 || !strings.Contains(r.Stderr, "no such container") {
			t.Errorf("rm -f %s while it is prepared: exit %d, %q; want no such container, exit 0", name, r.Code, r.Stderr)
		}
		if r := f.promptly(t, prompt, root, "create", "--name", name, f.a, "true"); r.Code == 0 || !strings.Contains(r.Stderr, "already in use") {
			t.Errorf("create --name %s while it is prepared: exit %d, %q; want its name in use", name, r.Code, r.Stderr)
		}
		if _, err := os.Lstat(filepath.Join(root, "containers", id)); err != nil {
			t.Errorf("the container %s being prepared is gone: %v", name, err)
		}
	}

	// A create: another create and run, a rename to its name, and the lookups meanwhile.
	p := f.stopAt(t, root, "preparing", "create", "--name", "slow", f.a, "echo", "whole")
	id := containerByName(root, "slow")
	if id == "" {
		t.Fatal("no name link for slow once its create stopped while preparing it")
	}
	checkHidden("slow", id)
	if r := f.promptly(t, prompt, root, "run", "--rm", f.a, "true"); r.Code != 0 {
		t.Errorf("run --rm while slow is prepared: exit %d: %s", r.Code, r.Stderr)
	}
	other := strings.TrimSpace(f.promptly(t, prompt, root, "create", "--name", "other", f.a, "true").Stdout)
	if other == "" {
		t.Error("create --name other while slow is prepared printed no ID")
	}
	if r := f.promptly(t, prompt, root, "rename", "other", "slow"); r.Code == 0 || !strings.Contains(r.Stderr, "already in use") {
		t.Errorf("rename other slow while slow is prepared: exit %d, %q; want its name in use", r.Code, r.Stderr)
	}
	p.cmd.Process.Signal(syscall.SIGCONT)
	if code := p.wait(t); code != 0 || strings.TrimSpace(p.stdout.String()) != id {
		t.Fatalf("the create let go: exit %d, printed %q: %s; want %s", code, p.stdout.String(), p.stderr.String(), id)
	}
	mustRun(t, f.env, "", root, "start", "slow")
	if r := mustRun(t, f.env, "", root, "wait", "slow"); strings.TrimSpace(r.Stdout) != "0" {
		t.Errorf("wait slow = %q, want 0", r.Stdout)
	}
	if r := mustRun(t, f.env, "", root, "logs", "slow"); strings.TrimSpace(r.Stdout) != "whole" {
		t.Errorf("logs slow = %q, want whole", r.Stdout)
	}
	mustRun(t, f.env, "", root, "rm", "slow", "other")

	// A run --rm, which records itself as the container's monitor: ps's sweep of orphans
	// meanwhile does not take it, and it runs once let go.
	p = f.stopAt(t, root, "preparing", "run", "--rm", "--name", "slowrun", f.a, "true")
	id = containerByName(root, "slowrun")
	if id == "" {
		t.Fatal("no name link for slowrun once its run stopped while preparing it")
	}
	checkHidden("slowrun", id)
	p.cmd.Process.Signal(syscall.SIGCONT)
	if code := p.wait(t); code != 0 {
		t.Fatalf("the run --rm let go: exit %d: %s", code, p.stderr.String())
	}
	if _, err := os.Lstat(filepath.Join(root, "containers", id)); err == nil {
		t.Errorf("run --rm left its container %.12s", id)
	}

	// Killed while preparing: a --rm container whose create never ended, which ps's sweep
	// removes as docker never shows one (removeAbandoned), and the name is free after.
	p = f.stopAt(t, root, "preparing", "run", "--rm", "--name", "slowkilled", f.a, "true")
	id = containerByName(root, "slowkilled")
	p.kill(t)
	waitCgroupIdle(t, id)
	if r := mustRun(t, f.env, "", root, "ps", "-a", "--format", "{{.Names}} {{.State}}"); strings.Contains(r.Stdout, "slowkilled") {
		t.Errorf("ps -a once the run --rm was killed creating it lists %q, want it swept", r.Stdout)
	}
	mustRun(t, f.env, "", root, "run", "--rm", "--name", "slowkilled", f.a, "true")
	if r := mustRun(t, f.env, "", root, "ps", "-a", "-q"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("ps -a at the end lists %q, want nothing", r.Stdout)
	}
	checkNothingLeft(t, root, "no-marker-here", []string{id})
}
