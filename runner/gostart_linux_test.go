package runner

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGoStartFiles: the files the Go runtime opens as it starts are found as it finds them:
// the huge page size, and the CPU limit files of the process's cgroup under each cgroup mount
// (v2's cpu.max; v1's cpu controller, co-mounted or not, its quota and period), below the
// mount's root; a FIFO among them is refused in one line naming it, a regular file is not.
func TestGoStartFiles(t *testing.T) {
	dir := t.TempDir()
	proc := filepath.Join(dir, "proc")
	v1 := filepath.Join(dir, "cg v1")
	v2 := filepath.Join(dir, "unified")
	for _, d := range []string{proc, filepath.Join(v1, "ctr"), filepath.Join(v2, "ctr")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(proc, "cgroup"), "12:pids:/x/ctr\n4:cpu,cpuacct:/x/ctr\n0::/x/ctr\n")
	esc := strings.ReplaceAll(v1, " ", `\040`)
	write(filepath.Join(proc, "mountinfo"), strings.Join([]string{
		"22 1 0:20 / / rw - overlay overlay rw",
		"30 22 0:29 /x " + esc + " ro - cgroup cgroup rw,cpu,cpuacct",
		"31 22 0:30 /x " + v2 + " ro - cgroup2 cgroup2 rw",
		"32 22 0:31 / /sys/fs/cgroup/pids ro - cgroup cgroup rw,pids",
		"33 22 0:32 /other /elsewhere ro - cgroup2 cgroup2 rw",
	}, "\n")+"\n")
	want := []string{
		goStartTHP,
		filepath.Join(v1, "ctr", "cpu.cfs_quota_us"), filepath.Join(v1, "ctr", "cpu.cfs_period_us"),
		filepath.Join(v2, "ctr", "cpu.max"),
	}
	if got := goStartFiles(proc); !slices.Equal(got, want) {
		t.Errorf("goStartFiles = %q, want %q", got, want)
	}
	write(filepath.Join(v1, "ctr", "cpu.cfs_quota_us"), "-1\n")
	if err := checkGoStart(proc); err != nil && !strings.Contains(err.Error(), goStartTHP) {
		t.Errorf("checkGoStart with regular files = %v, want nil", err)
	}
	if err := unix.Mkfifo(filepath.Join(v2, "ctr", "cpu.max"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkGoStart(proc); err == nil || !strings.Contains(err.Error(), filepath.Join(v2, "ctr", "cpu.max")+" in the container is a fifo") || strings.Contains(err.Error(), "\n") {
		t.Errorf("checkGoStart with a FIFO at cpu.max = %v, want one line naming it", err)
	}
}
