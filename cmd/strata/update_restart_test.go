package main

import (
	"path/filepath"
	"testing"

	"github.com/strata-run/strata/runner"
)

// TestUpdateEmptyRestart: update --restart "" leaves the policy as it is, as docker's does
// (its CLI sends no policy for "", and its daemon changes one only when named); it set "no",
// so `update --restart "$POLICY"` with POLICY unset stopped a container's restarts.
func TestUpdateEmptyRestart(t *testing.T) {
	root := t.TempDir()
	store, err := runner.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := runner.Config{Name: "plain", Image: "alpine", Spec: runner.Spec{Args: []string{"true"}},
		RestartPolicy: runner.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}}
	if _, err := store.Create(cfg); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := runCLI(t, root, "update", "--restart", "", "plain")
	if err != nil || stdout != "plain\n" {
		t.Fatalf("update --restart \"\" plain = %q, %v; want plain, no error (a flag given, nothing changed)", stdout, err)
	}
	c, err := store.Get("plain")
	if err != nil {
		t.Fatal(err)
	}
	if want := cfg.RestartPolicy; c.Config.RestartPolicy != want {
		t.Errorf("restart policy after update --restart \"\" = %+v, want %+v as before", c.Config.RestartPolicy, want)
	}
}

// TestUpdateEmptyCpuset: update --cpuset-cpus "" and --cpuset-mems "" change nothing and
// succeed, as docker's (its daemon takes a cpuset only when not empty; run takes "" as no
// cpuset too). strata refused them with status 125 as bad values.
func TestUpdateEmptyCpuset(t *testing.T) {
	root := t.TempDir()
	store, err := runner.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	spec := runner.Spec{Args: []string{"true"}}
	spec.Resources.CpusetCpus, spec.Resources.CpusetMems = "0", "0"
	if _, err := store.Create(runner.Config{Name: "plain", Image: "alpine", Spec: spec}); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--cpuset-cpus", "--cpuset-mems"} {
		stdout, _, err := runCLI(t, root, "update", flag, "", "plain")
		if err != nil || stdout != "plain\n" {
			t.Errorf("update %s \"\" plain = %q, %v; want plain, no error", flag, stdout, err)
		}
	}
	c, err := store.Get("plain")
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Config.Spec.Resources; r.CpusetCpus != "0" || r.CpusetMems != "0" {
		t.Errorf("cpusets after the updates = %q, %q; want 0, 0 as before", r.CpusetCpus, r.CpusetMems)
	}
}
