package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runcSpec is part of what `runc spec` (1.1) writes, with the edits make_bundle makes, and
// two fields the rewrite must keep though runtime-spec has no field for them.
const runcSpec = `{
	"ociVersion": "1.0.2-dev",
	"process": {
		"terminal": false,
		"user": {"uid": 0, "gid": 0},
		"args": ["/bin/true"],
		"env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
		"cwd": "/",
		"capabilities": {
			"bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
			"effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
			"permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
			"ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
		},
		"rlimits": [{"type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 1024}],
		"noNewPrivileges": true,
		"futureProcessField": "kept"
	},
	"root": {"path": "/var/tmp/alpine-rootfs", "readonly": true},
	"hostname": "runc",
	"mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
	"linux": {
		"resources": {"devices": [{"allow": false, "access": "rwm"}]},
		"cgroupsPath": "/strata-bench-1/oci",
		"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
		"maskedPaths": ["/proc/kcore"],
		"readonlyPaths": ["/proc/bus"]
	},
	"futureTopField": {"n": 1.50}
}`

func writeBundle(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
}

func TestRewrite(t *testing.T) {
	dir := writeBundle(t, runcSpec)
	if err := rewrite(dir); err != nil {
		t.Fatalf("rewrite = %v", err)
	}
	var got specs.Spec
	readJSON(t, filepath.Join(dir, "config.json"), &got)

	c := got.Process.Capabilities
	for name, set := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted} {
		if !slices.Equal(set, DockerCaps) {
			t.Errorf("%s capabilities = %v, want docker's %v", name, set, DockerCaps)
		}
	}
	if len(c.Inheritable) > 0 || len(c.Ambient) > 0 {
		t.Errorf("inheritable %v, ambient %v, want none (docker sets none)", c.Inheritable, c.Ambient)
	}
	if len(DockerCaps) != 14 {
		t.Errorf("DockerCaps has %d capabilities, want docker's 14", len(DockerCaps))
	}

	// The profile must be docker's default resolved for these capabilities: what
	// GetDefaultProfile gives for a spec holding them.
	want, err := seccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: DockerCaps}}})
	if err != nil {
		t.Fatal(err)
	}
	// Round-trip the expectation through JSON as the file went, so that nil and empty
	// slices compare alike.
	var wantJSON specs.LinuxSeccomp
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &wantJSON); err != nil {
		t.Fatal(err)
	}
	if got.Linux.Seccomp == nil {
		t.Fatal("config.json has no linux.seccomp")
	}
	if !reflect.DeepEqual(*got.Linux.Seccomp, wantJSON) {
		t.Errorf("linux.seccomp differs from GetDefaultProfile for docker's capabilities: %d syscall rules, want %d",
			len(got.Linux.Seccomp.Syscalls), len(wantJSON.Syscalls))
	}
	if got.Linux.Seccomp.DefaultAction != specs.ActErrno {
		t.Errorf("seccomp default action = %s, want %s (an allowlist)", got.Linux.Seccomp.DefaultAction, specs.ActErrno)
	}
	// The capability-gated rules follow the set: chroot needs CAP_SYS_CHROOT, which docker's
	// set has; mount needs CAP_SYS_ADMIN, which it lacks.
	allowed := map[string]bool{}
	for _, s := range got.Linux.Seccomp.Syscalls {
		if s.Action == specs.ActAllow && len(s.Args) == 0 {
			for _, n := range s.Names {
				allowed[n] = true
			}
		}
	}
	for name, want := range map[string]bool{"read": true, "chroot": true, "mount": false, "reboot": false} {
		if allowed[name] != want {
			t.Errorf("%s allowed unconditionally = %v, want %v", name, allowed[name], want)
		}
	}
}

// TestRewriteKeepsTheRest checks that only the capabilities and the seccomp section change:
// the rest of the bundle (root, args, cgroupsPath, large numbers, unknown fields) is the same.
func TestRewriteKeepsTheRest(t *testing.T) {
	dir := writeBundle(t, runcSpec)
	if err := rewrite(dir); err != nil {
		t.Fatalf("rewrite = %v", err)
	}
	var before, after map[string]any
	if err := json.Unmarshal([]byte(runcSpec), &before); err != nil {
		t.Fatal(err)
	}
	readJSON(t, filepath.Join(dir, "config.json"), &after)
	for _, m := range []map[string]any{before, after} {
		delete(m["process"].(map[string]any), "capabilities")
		delete(m["linux"].(map[string]any), "seccomp")
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("rewrite changed more than capabilities and seccomp:\nbefore %v\nafter  %v", before, after)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Process struct {
			Rlimits []struct {
				Hard json.Number `json:"hard"`
			} `json:"rlimits"`
		} `json:"process"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if h := raw.Process.Rlimits[0].Hard; h != "18446744073709551615" {
		t.Errorf("RLIMIT_NOFILE hard = %s, want 18446744073709551615 as written (not a float)", h)
	}
}

func TestRewriteRejects(t *testing.T) {
	tests := []struct {
		name   string
		config string // "" writes no config.json
	}{
		{"no config.json", ""},
		{"not JSON", "{"},
		{"no process", `{"linux": {}}`},
		{"process not an object", `{"process": [], "linux": {}}`},
		{"no linux", `{"process": {}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.config != "" {
				dir = writeBundle(t, tt.config)
			}
			if err := rewrite(dir); err == nil {
				t.Fatalf("rewrite(%s) = nil error, want an error", tt.name)
			}
			if tt.config == "" {
				return
			}
			b, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.config {
				t.Errorf("config.json = %q after a failed rewrite, want it untouched", b)
			}
		})
	}
}
