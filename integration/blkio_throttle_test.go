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
