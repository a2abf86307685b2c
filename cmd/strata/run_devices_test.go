package main

import (
	"maps"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/runner/cgroups"
)

// TestRunDeviceFlags: --device, --device-cgroup-rule, --sysctl and --oom-score-adj, as run
// and create parse them, reach the Spec (config.json) and the cgroup's Resources, which the
// early cgroup is made with; none of them leaves every field empty.
func TestRunDeviceFlags(t *testing.T) {
	image := &v1.ConfigFile{Config: v1.Config{Cmd: []string{"sh"}}}
	null := cgroups.DeviceRule{Type: 'c', Major: 1, Minor: 3, Access: "rw"}
	rule := cgroups.DeviceRule{Type: 'c', Major: 42, Minor: cgroups.AnyDevice, Access: "rmw"}
	adj := func(n int) *int { return &n }
	for _, tt := range []struct {
		args    []string
		devices []runner.DeviceMapping
		rules   []cgroups.DeviceRule
		sysctls map[string]string
		oom     *int
		wantErr string
	}{
		{args: nil},
		{args: []string{"--device", "/dev/null:/dev/n:rw", "--device-cgroup-rule", "c 42:* rmw"},
			devices: []runner.DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "/dev/n", CgroupPermissions: "rw"}}, rules: []cgroups.DeviceRule{null, rule}},
		{args: []string{"--sysctl", "kernel.shmmax=1", "--sysctl", "net.core.somaxconn=5", "--sysctl", "kernel.shmmax=2"},
			sysctls: map[string]string{"kernel.shmmax": "2", "net.core.somaxconn": "5"}},
		{args: []string{"--sysctl", "kernel.sem=250 32000 32 128=x"}, sysctls: map[string]string{"kernel.sem": "250 32000 32 128=x"}},
		{args: []string{"--oom-score-adj", "0"}, oom: adj(0)},
		{args: []string{"--oom-score-adj=-17"}, oom: adj(-17)},
		{args: []string{"--device", "/dev/null:/x:q"}, wantErr: "bad mode"},
		{args: []string{"--device-cgroup-rule", "c 1:3"}, wantErr: "invalid device cgroup rule"},
		{args: []string{"--sysctl", "noequals"}, wantErr: "want KEY=VALUE"},
	} {
		var o runOptions
		cmd := &cobra.Command{Use: "run"}
		addContainerFlags(cmd, &o)
		if err := cmd.ParseFlags(tt.args); err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		spec, err := o.spec(image, nil)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		res, rerr := o.resources()
		switch {
		case err != nil || rerr != nil:
			t.Errorf("%q: spec %v, resources %v", tt.args, err, rerr)
		case !slices.Equal(spec.Devices, tt.devices) || !slices.Equal(spec.Resources.Devices, tt.rules) || !slices.Equal(res.Devices, tt.rules):
			t.Errorf("%q: Devices %+v, rules %v (resources %v); want %+v, %v", tt.args, spec.Devices, spec.Resources.Devices, res.Devices, tt.devices, tt.rules)
		case !maps.Equal(spec.Sysctls, tt.sysctls):
			t.Errorf("%q: Sysctls %v, want %v", tt.args, spec.Sysctls, tt.sysctls)
		case (spec.OomScoreAdj == nil) != (tt.oom == nil) || tt.oom != nil && *spec.OomScoreAdj != *tt.oom:
			t.Errorf("%q: OomScoreAdj %v, want %v", tt.args, spec.OomScoreAdj, tt.oom)
		}
	}
	for _, cmd := range []*cobra.Command{newRunCmd(&globals{}), newCreateCmd(&globals{})} {
		for _, name := range []string{"device", "device-cgroup-rule", "sysctl", "oom-score-adj"} {
			if cmd.Flags().Lookup(name) == nil {
				t.Errorf("%s has no --%s", cmd.Name(), name)
			}
		}
	}
}
