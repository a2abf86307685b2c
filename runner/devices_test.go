package runner

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner/cgroups"
)

func TestParseDevice(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    DeviceMapping
		wantErr string
	}{
		{"/dev/null", DeviceMapping{"/dev/null", "/dev/null", "rwm"}, ""},
		{"/dev/null:/dev/mynull", DeviceMapping{"/dev/null", "/dev/mynull", "rwm"}, ""},
		{"/dev/sda:r", DeviceMapping{"/dev/sda", "/dev/sda", "r"}, ""}, // a mode in second place, as docker reads it
		{"/dev/sda:/dev/xvdc:mw", DeviceMapping{"/dev/sda", "/dev/xvdc", "mw"}, ""},
		{"/dev/null:/dev/../x/./y/", DeviceMapping{"/dev/null", "/x/y", "rwm"}, ""},
		{"/dev/null:/dev/n:", DeviceMapping{}, "bad mode"},
		{"/dev/null:/dev/n:rwx", DeviceMapping{}, "bad mode"},
		{"/dev/null:/dev/n:rr", DeviceMapping{}, "bad mode"},
		{"/dev/null:rel", DeviceMapping{}, "not an absolute path"},
		{"rel", DeviceMapping{}, "not an absolute path"},
		{"", DeviceMapping{}, "empty host path"},
		{":/dev/x", DeviceMapping{}, "empty host path"},
		{"/a:/b:r:x", DeviceMapping{}, "HOST[:CONTAINER][:PERMISSIONS]"},
		{"/dev/null:/", DeviceMapping{}, "can't be '/'"},
		{"/dev/null:/dev/../..", DeviceMapping{}, "can't be '/'"},
		{"/dev/null:/proc/sys/kernel/core_pattern", DeviceMapping{}, "/proc or /sys"},
		{"/dev/null:/sys", DeviceMapping{}, "/proc or /sys"},
		{"/dev/null:/x\x00", DeviceMapping{}, "NUL"},
	} {
		got, err := ParseDevice(tt.in)
		switch {
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("ParseDevice(%q) = %+v, %v, want %+v", tt.in, got, err, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParseDevice(%q) = %+v, %v, want an error with %q", tt.in, got, err, tt.wantErr)
		}
	}
}

// TestResolveDevices: a node, a symlink to one (resolved, as docker does), a directory (each
// node under it, symlinks skipped); a regular file, a missing path or a directory without
// nodes is refused.
func TestResolveDevices(t *testing.T) {
	if _, err := os.Stat("/dev/null"); err != nil {
		t.Skipf("skipping: %v", err)
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "link")
	if err := os.Symlink("/dev/null", link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	nodes, rules, err := ResolveDevices([]DeviceMapping{{"/dev/null", "/dev/a", "rw"}, {link, "/dev/b", "r"}})
	wantNodes := []DeviceNode{{"/dev/null", "/dev/a"}, {"/dev/null", "/dev/b"}}
	wantRules := []cgroups.DeviceRule{{Type: 'c', Major: 1, Minor: 3, Access: "rw"}, {Type: 'c', Major: 1, Minor: 3, Access: "r"}}
	if err != nil || !slices.Equal(nodes, wantNodes) || !slices.Equal(rules, wantRules) {
		t.Errorf("ResolveDevices = %+v, %v, %v; want %+v, %v", nodes, rules, err, wantNodes, wantRules)
	}
	for _, tt := range []struct{ path, wantErr string }{
		{file, "not a device node"},
		{filepath.Join(dir, "missing"), "no such file or directory"},
		{dir, "nor a directory holding any"}, // a link to a node in it does not count
	} {
		if _, _, err := ResolveDevices([]DeviceMapping{{tt.path, "/dev/x", "rwm"}}); err == nil || !strings.Contains(err.Error(), tt.wantErr) ||
			!strings.Contains(err.Error(), "error gathering device information while adding custom device") {
			t.Errorf("ResolveDevices(%s) = %v, want docker's error with %q", tt.path, err, tt.wantErr)
		}
	}
	if _, err := os.Stat("/dev/net/tun"); err == nil {
		nodes, rules, err := ResolveDevices([]DeviceMapping{{"/dev/net", "/net", "r"}})
		if err != nil || !slices.Contains(nodes, DeviceNode{"/dev/net/tun", "/net/tun"}) || len(rules) != len(nodes) || rules[0].Access != "r" {
			t.Errorf("ResolveDevices(/dev/net) = %+v, %v, %v; want /dev/net/tun at /net/tun, read-only", nodes, rules, err)
		}
	}
}

func TestValidateSysctl(t *testing.T) {
	for _, tt := range []struct {
		key, value, network, wantErr string
	}{
		{"net.ipv4.ip_forward", "1", NetworkNone, ""},
		{"net.ipv4.conf.all.rp_filter", "2", "", ""},
		{"kernel.shmmax", "123", "", ""},
		{"kernel.sem", "250 32000 32 128", "", ""},
		{"fs.mqueue.msg_max", "20", NetworkHost, ""},
		{"kernel.domainname", "example.org", "", ""},
		{"kernel.shm_rmid_forced", "1", "", ""},
		{"net.ipv4.ip_forward", "1", NetworkHost, `sysctl "net.ipv4.ip_forward" is not allowed in host network namespace`},
		{"vm.swappiness", "1", "", `sysctl "vm.swappiness" is not whitelisted`},
		{"kernel.core_pattern", "|/x", "", "not whitelisted"},
		{"kernel.hostname", "x", "", "--hostname"},
		{"fs.mqueue", "1", "", "not whitelisted"},
		{"net", "1", "", "not whitelisted"},
		{"net..ipv4", "1", "", "invalid sysctl"},
		{"net.ipv4.", "1", "", "invalid sysctl"},
		{".net.ipv4", "1", "", "invalid sysctl"},
		{"net.ipv4/../../../etc", "1", "", "invalid sysctl"},
		{"net.ipv4.x y", "1", "", "invalid sysctl"},
		{"net." + strings.Repeat("a", 300), "1", "", "invalid sysctl"},
		{"kernel.shmmax", "", "", "empty value"},
		{"kernel.shmmax", "1\n2", "", "newline"},
		{"kernel.shmmax", "1\x00", "", "NUL"},
		{"kernel.shmmax", strings.Repeat("1", 5000), "", "at most 4096"},
	} {
		err := validateSysctl(tt.key, tt.value, tt.network)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("validateSysctl(%q, %q, %q) = %v", tt.key, tt.value, tt.network, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("validateSysctl(%q, %q, %q) = %v, want %q", tt.key, tt.value, tt.network, err, tt.wantErr)
		}
	}
}

func TestValidateOomScoreAdj(t *testing.T) {
	for n, ok := range map[int]bool{-1000: true, 0: true, 1000: true, -1001: false, 1001: false} {
		if err := validateOomScoreAdj(&n); (err == nil) != ok {
			t.Errorf("validateOomScoreAdj(%d) = %v", n, err)
		}
	}
	if err := validateOomScoreAdj(nil); err != nil {
		t.Errorf("validateOomScoreAdj(nil) = %v", err)
	}
}

// TestPlanDevicesSysctls: the user's devices are made after the standard ones, before the
// pivot; the sysctls are written after the pivot (in the container's /proc), before
// /proc/sys is made read-only, in key order. Without them the plan has neither.
func TestPlanDevicesSysctls(t *testing.T) {
	base := Spec{ID: "id", Dir: "/c", Root: []mount.Mount{{Type: "overlay", Target: "/"}}}
	spec := base
	spec.DeviceNodes = []DeviceNode{{"/dev/loop-control", "/dev/lc"}, {"/dev/null", "/x/../dev/n2"}}
	spec.Sysctls = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "42"}
	steps := plan(spec)
	lc, n2 := stepIndex(steps, OpUserDevice, "/dev/lc"), stepIndex(steps, OpUserDevice, "/dev/n2")
	pivot := stepIndex(steps, OpPivot, "/")
	shm, fwd := stepIndex(steps, OpSysctl, "/proc/sys/kernel/shmmax"), stepIndex(steps, OpSysctl, "/proc/sys/net/ipv4/ip_forward")
	ro := stepIndex(steps, OpReadOnly, "/proc/sys")
	if null := stepIndex(steps, OpDevice, "/dev/null"); null < 0 || lc < null || n2 < lc || pivot < n2 {
		t.Errorf("user devices at %d, %d; standard null at %d, pivot at %d: want them after the standard ones, before the pivot", lc, n2, null, pivot)
	}
	if shm < pivot || fwd != shm+1 || ro < fwd {
		t.Errorf("sysctls at %d, %d; pivot at %d, read-only /proc/sys at %d", shm, fwd, pivot, ro)
	}
	if s := steps[fwd]; s.Source != "net.ipv4.ip_forward" || s.Data != "1" {
		t.Errorf("sysctl step = %+v", s)
	}
	if s := steps[lc]; s.Source != "/dev/loop-control" {
		t.Errorf("device step = %+v", s)
	}
	for _, s := range plan(base) {
		if s.Op == OpUserDevice || s.Op == OpSysctl {
			t.Errorf("a plan without --device or --sysctl has %+v", s)
		}
	}
	// A privileged container gets the host's nodes, but not one where a --device goes.
	priv := base
	priv.Privileged = true
	priv.DeviceNodes = []DeviceNode{{"/dev/loop0", "/dev/sdb"}}
	steps = planWith(priv, hostInfo{Devices: []string{"sda", "sdb"}})
	if stepIndex(steps, OpDevice, "/dev/sda") < 0 || stepIndex(steps, OpDevice, "/dev/sdb") >= 0 || stepIndex(steps, OpUserDevice, "/dev/sdb") < 0 {
		t.Errorf("privileged plan with --device /dev/loop0:/dev/sdb: %+v", steps)
	}
}

// TestPlanDevSymlinksYield: a --device or a mount at one of the standard /dev links, or
// beneath one (/dev/fd/1), takes its place, as with runc, which leaves what is there; the
// link to the devpts's ptmx is always made.
func TestPlanDevSymlinksYield(t *testing.T) {
	spec := Spec{ID: "id", Dir: "/c", Root: []mount.Mount{{Type: "overlay", Target: "/"}}}
	links := []string{"/dev/ptmx", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/core"}
	for _, l := range links {
		if stepIndex(plan(spec), OpSymlink, l) < 0 {
			t.Fatalf("a plan without --device has no link %s", l)
		}
	}
	spec.DeviceNodes = []DeviceNode{{"/dev/zero", "/dev/stdin"}, {"/dev/zero", "/dev//fd/1"}, {"/dev/zero", "/dev/ptmx"}, {"/dev/zero", "/dev/stdout2"}}
	spec.Mounts = []mount.Mount{{Type: "bind", Source: "/h", Target: "/dev/core"}}
	steps := plan(spec)
	for _, l := range links {
		kept := l == "/dev/ptmx" || l == "/dev/stdout" || l == "/dev/stderr"
		if got := stepIndex(steps, OpSymlink, l) >= 0; got != kept {
			t.Errorf("link %s in the plan: %v, want %v", l, got, kept)
		}
	}
	if stepIndex(steps, OpUserDevice, "/dev/stdin") < 0 || stepIndex(steps, OpUserDevice, "/dev/fd/1") < 0 {
		t.Errorf("the devices are not in the plan: %+v", steps)
	}
}

// TestPlanDeviceAtStandardDevice: a --device at a standard device's path takes its place,
// as with docker (runc's defaults and the spec's devices are one list); at /dev/null the
// container's null device is made and kept first, for the masks and the command's stdin.
func TestPlanDeviceAtStandardDevice(t *testing.T) {
	spec := Spec{ID: "id", Dir: "/c", Root: []mount.Mount{{Type: "overlay", Target: "/"}}}
	spec.DeviceNodes = []DeviceNode{{"/dev/zero", "/dev/null"}, {"/dev/null", "/dev//zero"}, {"/dev/zero", "/dev/tty"}}
	steps := plan(spec)
	for _, d := range []string{"/dev/zero", "/dev/tty"} {
		if stepIndex(steps, OpDevice, d) >= 0 || stepIndex(steps, OpUserDevice, d) < 0 {
			t.Errorf("%s: the standard device is made, or the user's is not: %+v", d, steps)
		}
	}
	for _, d := range []string{"/dev/full", "/dev/random", "/dev/urandom"} {
		if stepIndex(steps, OpDevice, d) < 0 {
			t.Errorf("the standard %s is not made", d)
		}
	}
	made, kept, user := stepIndex(steps, OpDevice, "/dev/null"), stepIndex(steps, OpKeepNull, "/dev/null"), stepIndex(steps, OpUserDevice, "/dev/null")
	if made < 0 || kept != made+1 || user < kept {
		t.Errorf("/dev/null made at step %d, kept at %d, the user's at %d: want made, kept, then the user's", made, kept, user)
	}
}

// TestPlanDevCoreNeedsKcore: the /dev/core link is made only on a host whose kernel has a
// /proc/kcore, as runc's (setupDevSymlinks stats it first); the other links always are.
func TestPlanDevCoreNeedsKcore(t *testing.T) {
	spec := Spec{ID: "id", Dir: "/c", Root: []mount.Mount{{Type: "overlay", Target: "/"}}}
	if stepIndex(planWith(spec, hostInfo{}), OpSymlink, "/dev/core") < 0 {
		t.Error("no /dev/core link on a host with /proc/kcore")
	}
	steps := planWith(spec, hostInfo{NoKcore: true})
	if stepIndex(steps, OpSymlink, "/dev/core") >= 0 {
		t.Error("a /dev/core link on a host without /proc/kcore")
	}
	if stepIndex(steps, OpSymlink, "/dev/fd") < 0 || stepIndex(steps, OpSymlink, "/dev/ptmx") < 0 {
		t.Errorf("the other links are not made: %+v", steps)
	}
}

// TestPlanDeviceOnMount: a --device at a mount point of the container (its /dev, /dev/pts,
// /dev/shm, /dev/mqueue, an etc file, a user's mount) is not made, as runc's mknod skips
// it; /dev/shm without a mount (--ipc none) gets it, and so does a path beneath a mount.
func TestPlanDeviceOnMount(t *testing.T) {
	spec := Spec{ID: "id", Dir: "/c", Root: []mount.Mount{{Type: "overlay", Target: "/"}}}
	spec.Mounts = []mount.Mount{{Type: "bind", Source: "/h", Target: "/data/"}}
	skipped := []string{"/dev", "/dev/pts", "/dev/shm", "/dev/mqueue/", "/etc/hosts", "/etc/resolv.conf", "/data"}
	made := []string{"/dev/shm/x", "/data/x", "/etc/passwd", "/dev/z"}
	for _, p := range append(slices.Clone(skipped), made...) {
		spec.DeviceNodes = append(spec.DeviceNodes, DeviceNode{"/dev/zero", p})
	}
	steps := plan(spec)
	for _, p := range skipped {
		if stepIndex(steps, OpUserDevice, path.Clean(p)) >= 0 {
			t.Errorf("a device at the mount point %s is in the plan", p)
		}
	}
	for _, p := range made {
		if stepIndex(steps, OpUserDevice, p) < 0 {
			t.Errorf("the device at %s is not in the plan", p)
		}
	}
	if got := DevicesOnMounts(spec); len(got) != len(skipped) {
		t.Errorf("DevicesOnMounts = %v, want the %d at %v", got, len(skipped), skipped)
	}
	spec.IpcMode = IPCNone
	spec.DeviceNodes = []DeviceNode{{"/dev/zero", "/dev/shm"}}
	if stepIndex(plan(spec), OpUserDevice, "/dev/shm") < 0 || len(DevicesOnMounts(spec)) != 0 {
		t.Error("with --ipc none the device at /dev/shm is not made")
	}
}

// TestValidateInputDevices: a Spec's device, sysctl and OOM fields are checked as the flags
// are (a hand-edited container record takes the same path).
func TestValidateInputDevices(t *testing.T) {
	n := 2000
	ok := Spec{Args: []string{"true"}, DeviceNodes: []DeviceNode{{"/dev/null", "/dev/null"}, {"/dev/zero", "/dev/z"}, {"/dev/zero", "/dev/tty"}}, DeviceCgroupRules: []string{"a *:* rwm"}}
	if err := ok.ValidateInput(); err != nil {
		t.Errorf("ValidateInput(%+v) = %v", ok, err)
	}
	for _, s := range []Spec{
		{DeviceNodes: []DeviceNode{{"/dev/null", "rel"}}},
		{DeviceNodes: []DeviceNode{{"/dev/null", "/proc/kcore"}}},
		{DeviceNodes: []DeviceNode{{"/dev/null", "/a"}, {"/dev/zero", "/b/../a"}}},
		{DeviceCgroupRules: []string{"c 1:3 rwq"}},
		{Sysctls: map[string]string{"vm.overcommit_memory": "1"}},
		{Network: NetworkHost, Sysctls: map[string]string{"net.core.somaxconn": "1"}},
		{OomScoreAdj: &n},
	} {
		s.Args = []string{"true"}
		if err := s.ValidateInput(); err == nil {
			t.Errorf("ValidateInput(%+v) = nil, want an error", s)
		}
	}
}

// TestHostNamespaceSysctl: an IPC sysctl with --ipc host, or kernel.domainname with --uts
// host, is refused: the init would write the host's own (runc's validator refuses them too).
func TestHostNamespaceSysctl(t *testing.T) {
	for _, tt := range []struct {
		key, ipc, uts string
		bad           bool
	}{
		{"kernel.shmmax", NSHost, "", true},
		{"fs.mqueue.msg_max", NSHost, "", true},
		{"kernel.domainname", "", NSHost, true},
		{"kernel.domainname", NSHost, "", false},
		{"kernel.shmmax", "", NSHost, false},
		{"kernel.shmmax", "container:" + strings.Repeat("a", 64), "", false},
		{"kernel.shmmax", "shareable", "", false},
		{"net.ipv4.ip_forward", NSHost, NSHost, false},
	} {
		err := hostNamespaceSysctl(tt.key, tt.ipc, tt.uts)
		if (err != nil) != tt.bad {
			t.Errorf("hostNamespaceSysctl(%q, ipc %q, uts %q) = %v, want refused %v", tt.key, tt.ipc, tt.uts, err, tt.bad)
		}
	}
	s := Spec{Args: []string{"true"}, IpcMode: NSHost, Sysctls: map[string]string{"kernel.shmmax": "1"}}
	if err := s.ValidateInput(); err == nil || !strings.Contains(err.Error(), "host's IPC namespace") {
		t.Errorf("Validate of --ipc host --sysctl kernel.shmmax: %v, want it refused", err)
	}
}
