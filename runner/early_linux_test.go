package runner

import (
	"errors"
	"strings"
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
