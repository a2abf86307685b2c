package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// blockDevice returns a block device node of this host and its numbers ("" if none is found).
func blockDevice() (path string, major, minor uint32) {
	ents, _ := os.ReadDir("/sys/block")
	for _, e := range ents {
		p := filepath.Join("/dev", e.Name())
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
			return p, unix.Major(st.Rdev), unix.Minor(st.Rdev)
		}
	}
	return "", 0, 0
}

// TestRunDeviceThrottle: docker's --device-read-bps, --device-write-bps, --device-read-iops
// and --device-write-iops reach the container's cgroup (v1 blkio.throttle.*_device, v2
// io.max) for the device's numbers, and inspect shows them as docker's HostConfig does
// (Path and Rate); a path that is not a block device, or a bad rate, is refused with exit
// 125 and no container. strata refused the flags as unknown.
func TestRunDeviceThrottle(t *testing.T) {
	requiresContainers(t)
	dev, major, minor := blockDevice()
	if dev == "" {
		t.Skip("no block device under /sys/block with a node in /dev")
	}
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "cg-bps") })
	mustStrata(t, root, "run", "-d", "--name", "cg-bps", "--device-read-bps", dev+":1mb", "--device-write-bps", dev+":2m",
		"--device-read-iops", dev+":300", "--device-write-iops", dev+":400", "alpine", "sleep", "600")
	id := containerID(t, root, "cg-bps")
	num := fmt.Sprintf("%d:%d", major, minor)
	if hostCgroupV2() {
		if got := mustCgroupRead(t, id, "", "io.max"); !strings.Contains(got, num+" rbps=1048576 wbps=2097152 riops=300 wiops=400") {
			t.Errorf("io.max = %q, want %s's four limits", got, num)
		}
	} else {
		for file, want := range map[string]string{"read_bps_device": "1048576", "write_bps_device": "2097152", "read_iops_device": "300", "write_iops_device": "400"} {
			if got := mustCgroupRead(t, id, "blkio", "blkio.throttle."+file); got != num+" "+want {
				t.Errorf("blkio.throttle.%s = %q, want %q", file, got, num+" "+want)
			}
		}
	}
	got := mustStrata(t, root, "inspect", "-f", "{{json .HostConfig.BlkioDeviceReadBps}} {{json .HostConfig.BlkioDeviceWriteBps}} {{json .HostConfig.BlkioDeviceReadIOps}} {{json .HostConfig.BlkioDeviceWriteIOps}}", "cg-bps").Stdout
	want := fmt.Sprintf(`[{"Path":%q,"Rate":1048576}] [{"Path":%[1]q,"Rate":2097152}] [{"Path":%[1]q,"Rate":300}] [{"Path":%[1]q,"Rate":400}]`, dev) + "\n"
	if got != want {
		t.Errorf("inspect = %q, want %q", got, want)
	}
	for _, tc := range []struct{ flag, value, want string }{
		{"--device-read-bps", "/dev/null:1mb", "is not a block device"},
		{"--device-read-bps", "sda:1mb", "bad format for device path"},
		{"--device-write-bps", dev, "bad format"},
		{"--device-read-bps", dev + ":fast", "invalid rate for device"},
		{"--device-write-iops", dev + ":1.5", "invalid rate for device"},
		{"--device-read-iops", "/dev/strata-none:1", "no such file or directory"},
	} {
		r := strata(t, root, "run", "--rm", "--name", "cg-bad", tc.flag, tc.value, "alpine", "true")
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) || strings.Count(r.Stderr, "\n") != 1 {
			t.Errorf("run %s %s: exit %d, stderr %q; want 125 and %q", tc.flag, tc.value, r.Code, r.Stderr, tc.want)
		}
	}
	if ps := mustStrata(t, root, "ps", "-aq", "--filter", "name=cg-bad").Stdout; ps != "" {
		t.Errorf("a refused run left a container: %q", ps)
	}
}

// TestRunBlkioWeightDevice: docker's --blkio-weight-device DEVICE:WEIGHT reaches the
// container's cgroup (the BFQ per-device file, else the generic one) for the device's
// numbers and shows in inspect as docker's HostConfig.BlkioWeightDevice; where the device's
// I/O scheduler weighs no I/O by cgroup (not bfq), the run fails in one line saying so, exit
// 125, as an unenforceable --blkio-weight does. Bad values are refused as
// docker's CLI refuses them. strata refused the flag as unknown.
func TestRunBlkioWeightDevice(t *testing.T) {
	requiresContainers(t)
	dev, major, minor := blockDevice()
	if dev == "" {
		t.Skip("no block device under /sys/block with a node in /dev")
	}
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "cg-wd") })
	r := strata(t, root, "run", "-d", "--name", "cg-wd", "--blkio-weight-device", dev+":300", "alpine", "sleep", "600")
	num := fmt.Sprintf("%d:%d", major, minor)
	switch {
	case r.Code == 0:
		id := containerID(t, root, "cg-wd")
		file, ctrl, want := "blkio.bfq.weight_device", "blkio", num+" 300"
		if hostCgroupV2() {
			file, ctrl = "io.bfq.weight", ""
		}
		got, ok := cgroupRead(t, id, ctrl, file)
		if !ok {
			file, want = "blkio.weight_device", num+" 300"
			if hostCgroupV2() {
				file, want = "io.weight", num+" 2930"
			}
			got = mustCgroupRead(t, id, ctrl, file)
		}
		if !strings.Contains(got, want) {
			t.Errorf("%s = %q, want a line %q", file, got, want)
		}
		if got := mustStrata(t, root, "inspect", "-f", "{{json .HostConfig.BlkioWeightDevice}}", "cg-wd").Stdout; got != fmt.Sprintf(`[{"Path":%q,"Weight":300}]`, dev)+"\n" {
			t.Errorf("inspect BlkioWeightDevice = %q", got)
		}
	case r.Code == 125 && strings.Contains(r.Stderr, "not supported by this host's cgroups") && strings.Count(r.Stderr, "\n") == 1:
		// As docker's run -d whose start fails, the container stays, created.
		t.Logf("this host cannot weigh %s's I/O by cgroup: %s", dev, strings.TrimSpace(r.Stderr))
	default:
		t.Errorf("run --blkio-weight-device %s:300: exit %d, stderr %q; want it applied, or refused in one line as unsupported", dev, r.Code, r.Stderr)
	}
	for _, tc := range []struct{ value, want string }{
		{dev + ":5", "invalid weight for device"},
		{dev + ":1001", "invalid weight for device"},
		{dev + ":x", "invalid weight for device"},
		{"sda:300", "bad format for device path"},
		{dev, "bad format"},
		{"/dev/null:300", "is not a block device"},
	} {
		r := strata(t, root, "create", "--name", "cg-wd-bad", "--blkio-weight-device", tc.value, "alpine", "true")
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) || strings.Count(r.Stderr, "\n") != 1 {
			t.Errorf("create --blkio-weight-device %s: exit %d, stderr %q; want 125 and %q", tc.value, r.Code, r.Stderr, tc.want)
		}
	}
}

// TestRunDeviceThrottleZero: a rate of 0 is what the host's cgroups make of it, as under
// docker, but said in one line before anything is made where it cannot be set. On v1 the
// blkio.throttle files take 0 as no limit: the container runs unthrottled, its inspect
// showing the 0 as given (docker's run on v1 does the same). On v2 io.max has no 0 (the
// kernel's ERANGE; no limit is "max"): run exits 125 with one line naming the flag, and no
// container, where strata's run wrote it and failed with "numerical result out of range"
// naming a cgroup file (docker's run over runc fails the same way).
func TestRunDeviceThrottleZero(t *testing.T) {
	requiresContainers(t)
	dev, _, _ := blockDevice()
	if dev == "" {
		t.Skip("no block device under /sys/block with a node in /dev")
	}
	root, _ := loadedRoot(t)
	flags := []string{"--device-read-bps", "--device-write-bps", "--device-read-iops", "--device-write-iops"}
	if hostCgroupV2() {
		for _, flag := range flags {
			r := strata(t, root, "run", "--rm", "--name", "cg-zero", flag, dev+":0", "alpine", "true")
			want := flag + " " + fmt.Sprintf("%q", dev+":0") + ": limit not supported by this host's cgroups: cgroup v2's io.max takes no rate of 0"
			if r.Code != 125 || !strings.Contains(r.Stderr, want) || strings.Count(r.Stderr, "\n") != 1 {
				t.Errorf("run %s %s:0: exit %d, stderr %q; want 125 and %q", flag, dev, r.Code, r.Stderr, want)
			}
		}
		if ps := mustStrata(t, root, "ps", "-aq", "--filter", "name=cg-zero").Stdout; ps != "" {
			t.Errorf("a refused run left a container: %q", ps)
		}
		return
	}
	t.Cleanup(func() { strata(t, root, "rm", "-f", "cg-zero") })
	args := []string{"run", "-d", "--name", "cg-zero"}
	for _, flag := range flags {
		args = append(args, flag, dev+":0")
	}
	mustStrata(t, root, append(args, "alpine", "sleep", "600")...)
	id := containerID(t, root, "cg-zero")
	for _, file := range []string{"read_bps_device", "write_bps_device", "read_iops_device", "write_iops_device"} {
		if got := mustCgroupRead(t, id, "blkio", "blkio.throttle."+file); got != "" {
			t.Errorf("blkio.throttle.%s = %q, want no limit", file, got)
		}
	}
	got := mustStrata(t, root, "inspect", "-f", "{{json .HostConfig.BlkioDeviceReadBps}} {{json .HostConfig.BlkioDeviceWriteIOps}}", "cg-zero").Stdout
	if want := fmt.Sprintf(`[{"Path":%q,"Rate":0}] [{"Path":%[1]q,"Rate":0}]`, dev) + "\n"; got != want {
		t.Errorf("inspect = %q, want %q", got, want)
	}
}
