package runner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/runner/cgroups"
)

// TestEarlyCgroupRun: a cgroup made before its container is the one the run uses (with its
// limits) and is gone afterwards; Release after the run is a no-op.
func TestEarlyCgroupRun(t *testing.T) {
	spec := testSpec(t, "cat", "/proc/self/cgroup", "/sys/fs/cgroup/pids/pids.max")
	if cgroups.Mode() == "v2" {
		spec.Args = []string{"cat", "/proc/self/cgroup", "/sys/fs/cgroup/pids.max"}
	}
	spec.Resources = cgroups.Resources{PidsLimit: 77}
	e := PrepareCgroup(spec.ID, spec.Resources)
	t.Cleanup(func() { _ = e.Release() })
	out := mustRun(t, spec)
	if !strings.Contains(out, "77") {
		t.Errorf("container sees %q, want the early cgroup's pids limit 77", out)
	}
	if _, err := cgroups.Load(spec.ID); !errors.Is(err, cgroups.ErrNotFound) {
		t.Errorf("cgroup after the run: Load = %v, want ErrNotFound", err)
	}
	if err := e.Release(); err != nil {
		t.Errorf("Release after the run = %v", err)
	}
}

// TestEarlyCgroupRelease: a cgroup no run took is removed by Release.
func TestEarlyCgroupRelease(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	id := randomID(t)
	e := PrepareCgroup(id, cgroups.Resources{})
	if _, err := cgroups.Load(id); err != nil {
		t.Skipf("skipping: no cgroup was made here: %v", err)
	}
	if err := e.Release(); err != nil {
		t.Fatalf("Release = %v", err)
	}
	if _, err := cgroups.Load(id); !errors.Is(err, cgroups.ErrNotFound) {
		t.Errorf("cgroup after Release: Load = %v, want ErrNotFound", err)
	}
}

// TestEarlyCgroupError: a cgroup that cannot be made fails the run that takes it, with the
// creation error.
func TestEarlyCgroupError(t *testing.T) {
	spec := testSpec(t, "true")
	spec.Resources = cgroups.Resources{CpusetCpus: "4095"}
	e := PrepareCgroup(spec.ID, spec.Resources)
	t.Cleanup(func() { _ = e.Release() })
	code, _, _, err := runOut(t, spec)
	if err == nil || code != ExitOwnError || !strings.Contains(err.Error(), "creating cgroup") {
		t.Errorf("Run with an impossible cpuset = %d, %v; want %d and a cgroup error", code, err, ExitOwnError)
	}
}

// TestEarlyCgroupOtherLimits: a cgroup made early with limits other than the container's is
// replaced by one with the container's.
func TestEarlyCgroupOtherLimits(t *testing.T) {
	spec := testSpec(t, "cat", "/sys/fs/cgroup/pids/pids.max")
	if cgroups.Mode() == "v2" {
		spec.Args = []string{"cat", "/sys/fs/cgroup/pids.max"}
	}
	spec.Resources = cgroups.Resources{PidsLimit: 55}
	e := PrepareCgroup(spec.ID, cgroups.Resources{PidsLimit: 66})
	t.Cleanup(func() { _ = e.Release() })
	if out := mustRun(t, spec); out != "55" {
		t.Errorf("container sees pids.max %q, want its own limit 55", out)
	}
}

// earlyInitOf returns the init PrepareInit started for id.
func earlyInitOf(t *testing.T, id string) *initProc {
	t.Helper()
	v, ok := earlyInits.Load(id)
	if !ok {
		t.Fatal("PrepareInit started no init")
	}
	ei := v.(*earlyInit)
	if ei.p == nil {
		t.Fatal("the early init failed to start")
	}
	return ei.p
}

// TestEarlyInitRun: an init started before its container is the one that runs the command,
// with the stdio it was started with.
func TestEarlyInitRun(t *testing.T) {
	spec := testSpec(t, "sh", "-c", "echo early; exit 7")
	var out, errb bytes.Buffer
	stdio := Stdio{Stdout: &out, Stderr: &errb}
	e := PrepareCgroup(spec.ID, spec.Resources)
	t.Cleanup(func() { _ = e.Release() })
	e.PrepareInit(InitShape{}, stdio)
	p := earlyInitOf(t, spec.ID)
	code, err := Run(context.Background(), spec, stdio)
	if err != nil || code != 7 || strings.TrimSpace(out.String()) != "early" {
		t.Fatalf("Run = %d, %v, stdout %q (stderr %q); want 7 and \"early\"", code, err, out.String(), errb.String())
	}
	if p.cmd.ProcessState == nil || p.cmd.ProcessState.ExitCode() != 7 {
		t.Errorf("the early init ended as %v, want it to have run the command (exit 7)", p.cmd.ProcessState)
	}
	if _, ok := earlyInits.Load(spec.ID); ok {
		t.Error("the run left its early init registered")
	}
}

// TestEarlyInitOtherShape: an early init whose namespaces or stdio do not fit the container is
// ended, and the run starts the init it needs.
func TestEarlyInitOtherShape(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape InitShape
		other bool // started with other stdio than the run's
	}{
		{"host network", InitShape{Network: NetworkHost}, false},
		{"terminal", InitShape{Terminal: true}, false},
		{"other stdio", InitShape{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := testSpec(t, "ls", "/sys/class/net")
			var out, errb, elsewhere bytes.Buffer
			stdio := Stdio{Stdout: &out, Stderr: &errb}
			e := PrepareCgroup(spec.ID, spec.Resources)
			t.Cleanup(func() { _ = e.Release() })
			started := stdio
			if tc.other {
				started.Stdout = &elsewhere
			}
			e.PrepareInit(tc.shape, started)
			p := earlyInitOf(t, spec.ID)
			code, err := Run(context.Background(), spec, stdio)
			if err != nil || code != 0 || strings.TrimSpace(out.String()) != "lo" {
				t.Fatalf("Run = %d, %v, stdout %q (stderr %q); want 0 and only lo", code, err, out.String(), errb.String())
			}
			if st := p.cmd.ProcessState; st == nil || st.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Errorf("the early init that did not fit ended as %v, want killed", st)
			}
			if elsewhere.Len() != 0 {
				t.Errorf("the unfit init wrote %q to the stdio it was started with", elsewhere.String())
			}
		})
	}
}

// TestEarlyInitRelease: an early init no run took is killed and reaped by Release, which
// still removes the cgroup.
func TestEarlyInitRelease(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	id := randomID(t)
	e := PrepareCgroup(id, cgroups.Resources{})
	if _, err := cgroups.Load(id); err != nil {
		t.Skipf("skipping: no cgroup was made here: %v", err)
	}
	e.PrepareInit(InitShape{}, Stdio{})
	p := earlyInitOf(t, id)
	if err := e.Release(); err != nil {
		t.Fatalf("Release = %v", err)
	}
	if p.cmd.ProcessState == nil {
		t.Error("Release left the early init unreaped")
	}
	if _, err := cgroups.Load(id); !errors.Is(err, cgroups.ErrNotFound) {
		t.Errorf("cgroup after Release: Load = %v, want ErrNotFound", err)
	}
	if _, ok := earlyInits.Load(id); ok {
		t.Error("Release left the early init registered")
	}
}

// valueWriter is an io.Writer whose values cannot be compared with ==.
type valueWriter struct{ b []byte }

func (w valueWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestEarlyInitIncomparableStdio: stdio that cannot be compared starts no early init (the run
// could not tell whether it fits) instead of panicking.
func TestEarlyInitIncomparableStdio(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	id := randomID(t)
	e := PrepareCgroup(id, cgroups.Resources{})
	t.Cleanup(func() { _ = e.Release() })
	e.PrepareInit(InitShape{}, Stdio{Stdout: valueWriter{}})
	if _, ok := earlyInits.Load(id); ok {
		t.Error("PrepareInit started an init for stdio it cannot compare")
	}
}
