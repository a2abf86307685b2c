package cgroups

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
)

func defaultRuleLines() string {
	var lines []string
	for _, r := range DefaultDevices {
		lines = append(lines, r.String())
	}
	return strings.Join(lines, "\n")
}

func TestNewDevicesFake(t *testing.T) {
	last := DefaultDevices[len(DefaultDevices)-1].String()
	tests := []struct {
		name string
		h    func(t testing.TB) *hierarchy
		r    Resources
		// want maps a file under the container's cgroup (controller/file on v1) to its
		// content; "" means the file must be missing or empty.
		want map[string]string
	}{
		{"v1", func(t testing.TB) *hierarchy { return fakeV1(t, fakeOpts{}) }, Resources{},
			map[string]string{"devices/devices.deny": "a", "devices/devices.allow": last}},
		{"v1 all devices", func(t testing.TB) *hierarchy { return fakeV1(t, fakeOpts{}) }, Resources{AllDevices: true},
			map[string]string{"devices/devices.deny": "", "devices/devices.allow": ""}},
		{"hybrid without a devices mount", func(t testing.TB) *hierarchy {
			return fakeV1(t, fakeOpts{hybrid: true, controllers: []string{"memory", "pids", "freezer"}})
		}, Resources{}, map[string]string{"unified/" + fakeDevicesFile: defaultRuleLines()}},
		{"v2", func(t testing.TB) *hierarchy { return fakeV2(t, fakeOpts{}) }, Resources{},
			map[string]string{fakeDevicesFile: defaultRuleLines()}},
		{"v2 all devices", func(t testing.TB) *hierarchy { return fakeV2(t, fakeOpts{}) }, Resources{AllDevices: true},
			map[string]string{fakeDevicesFile: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h(t)
			if _, err := h.create("c1", tt.r); err != nil {
				t.Fatalf("create(%+v) = %v", tt.r, err)
			}
			for file, want := range tt.want {
				p := filepath.Join(h.root, h.parent, "c1", file)
				if ctrl, rest, ok := strings.Cut(file, "/"); ok {
					p = filepath.Join(h.root, ctrl, h.parent, "c1", rest)
				}
				got, err := os.ReadFile(p)
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
				if strings.TrimSpace(string(got)) != want {
					t.Errorf("%s = %q, want %q", file, got, want)
				}
			}
		})
	}
}

// Without a devices controller and without a cgroup2 tree to attach a program to, a container
// cannot be confined to its devices, and it does not start unconfined.
func TestNewDevicesUnsupported(t *testing.T) {
	h := fakeV1(t, fakeOpts{controllers: []string{"memory", "pids", "freezer"}})
	if _, err := h.create("c1", Resources{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("create without a devices controller = %v, want ErrUnsupported", err)
	}
	if _, err := h.create("c2", Resources{AllDevices: true}); err != nil {
		t.Errorf("create with AllDevices and no devices controller = %v, want nil", err)
	}
}

// openOutput runs sh -c script with its stdin held open until it sits in c (or, with fd >= 0,
// born in the cgroup2 directory fd), and returns its combined output.
func openOutput(t *testing.T, c *Cgroup, script string) string {
	t.Helper()
	testutil.Requires(t, testutil.Command("sh"))
	cmd := exec.Command("sh", "-c", "read x; "+script)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if fd, ok := c.DirFD(); ok {
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if c.dir == "" {
		if err := c.AddProc(cmd.Process.Pid); err != nil {
			t.Fatalf("AddProc = %v", err)
		}
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	return out.String()
}

// The probe opens /dev/null (allowed) and /dev/kmsg (c 1:11: not in DefaultDevices, and
// openable by root on the host), the way a container would open a node it made itself.
const devicesProbe = `: </dev/null && echo null-ok; : </dev/kmsg && echo kmsg-ok`

func checkDevicesProbe(t *testing.T, c *Cgroup, all bool) {
	t.Helper()
	testutil.Requires(t, testutil.Path("/dev/kmsg"))
	out := openOutput(t, c, devicesProbe)
	want := []string{"null-ok", "Operation not permitted"}
	if all {
		want = []string{"null-ok", "kmsg-ok"}
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("AllDevices %v: the probe printed %q, want %q in it", all, out, w)
		}
	}
	if !all && strings.Contains(out, "kmsg-ok") {
		t.Errorf("the probe opened /dev/kmsg in a confined cgroup: %q", out)
	}
}

// The kernel's own list (devices.list) holds exactly the default rules, and it enforces them.
func TestHostDevicesV1(t *testing.T) {
	h := hostHierarchy(t)
	if h.mode == modeV2 {
		t.Skip("a v1 devices controller is for v1 and hybrid hosts")
	}
	c := newHost(t, h, "devices", Resources{})
	dir := c.ctrls["devices"]
	if dir == "" {
		t.Skip("no devices controller is mounted")
	}
	if got := readFake(t, filepath.Join(dir, "devices.list")); got != defaultRuleLines() {
		t.Errorf("devices.list =\n%s\nwant\n%s", got, defaultRuleLines())
	}
	checkDevicesProbe(t, c, false)

	all := newHost(t, h, "all-devices", Resources{AllDevices: true})
	if got := readFake(t, filepath.Join(all.ctrls["devices"], "devices.list")); got != "a *:* rwm" {
		t.Errorf("AllDevices: devices.list = %q, want a *:* rwm", got)
	}
	checkDevicesProbe(t, all, true)
}

// The BPF device program, run by the kernel: on a hybrid host the unified tree is a real
// cgroup2 (no controller is needed to attach a device program), so the v2 path runs here too.
func TestHostDevicesV2(t *testing.T) {
	hh := hostHierarchy(t)
	h := hh
	if hh.mode != modeV2 {
		if hh.unified == "" {
			t.Skip("no cgroup2 tree on this host")
		}
		h = newHierarchy(hh.unified, modeV2)
		h.parent = hh.parent
	}
	checkDevicesProbe(t, newHost(t, h, "devices", Resources{}), false)
	checkDevicesProbe(t, newHost(t, h, "all-devices", Resources{AllDevices: true}), true)
}
