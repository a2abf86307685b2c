// Package testutil holds helpers shared by strata's tests: requirement probes that skip a test
// with the reason when the machine cannot run it.
//
// Each requirement probes by trying (a 0/0 mknod, an overlay mount, a cgroup directory), not by
// guessing from the environment. With STRATA_TEST_STRICT=1 a missing requirement fails the test
// instead, so a root CI job cannot pass by skipping.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// Requirement is one thing a test needs from the machine. Check returns "" when it is met, or
// the reason it is not.
type Requirement struct {
	Name  string
	Check func() string
}

// Requires skips t (or fails it under STRATA_TEST_STRICT=1) unless every requirement is met.
func Requires(t testing.TB, reqs ...Requirement) {
	t.Helper()
	for _, r := range reqs {
		if reason := r.cached(); reason != "" {
			if os.Getenv("STRATA_TEST_STRICT") == "1" {
				t.Fatalf("requirement %s not met (STRATA_TEST_STRICT=1): %s", r.Name, reason)
			}
			t.Skipf("skipping: requirement %s not met: %s", r.Name, reason)
		}
	}
}

var (
	cacheMu sync.Mutex
	results = map[string]string{}
)

func (r Requirement) cached() string {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if v, ok := results[r.Name]; ok {
		return v
	}
	v := r.Check()
	results[r.Name] = v
	return v
}

// Root requires uid 0.
var Root = Requirement{"root", func() string {
	if os.Geteuid() != 0 {
		return "test needs root"
	}
	return ""
}}

// Mknod requires that a 0/0 character device (an overlay whiteout) can be created.
var Mknod = Requirement{"mknod", func() string {
	dir, err := os.MkdirTemp("", "strata-mknod-probe")
	if err != nil {
		return err.Error()
	}
	defer os.RemoveAll(dir)
	if err := unix.Mknod(filepath.Join(dir, "wh"), unix.S_IFCHR|0o600, 0); err != nil {
		return "mknod 0/0 char device: " + err.Error()
	}
	return ""
}}

// Overlay requires that an overlay filesystem can be mounted here (root, and a kernel with
// overlayfs, and not a /tmp that refuses to be an upperdir).
var Overlay = Requirement{"overlay", func() string {
	if os.Geteuid() != 0 {
		return "overlay mounts need root"
	}
	dir, err := os.MkdirTemp("", "strata-overlay-probe")
	if err != nil {
		return err.Error()
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err.Error()
		}
	}
	merged := filepath.Join(dir, "merged")
	opts := "lowerdir=" + filepath.Join(dir, "lower") + ",upperdir=" + filepath.Join(dir, "upper") + ",workdir=" + filepath.Join(dir, "work")
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return "mounting overlay: " + err.Error()
	}
	if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil {
		return "unmounting overlay probe: " + err.Error()
	}
	return ""
}}

// Command requires an executable on PATH.
func Command(name string) Requirement {
	return Requirement{"command " + name, func() string {
		if _, err := exec.LookPath(name); err != nil {
			return name + " is not installed (make test installs it with apt)"
		}
		return ""
	}}
}

// Path requires a file or directory to exist, e.g. ../shared/images.
func Path(p string) Requirement {
	return Requirement{"path " + p, func() string {
		if _, err := os.Stat(p); err != nil {
			return p + " is absent: " + err.Error()
		}
		return ""
	}}
}

// PodmanArgs are the global flags that keep podman in dir, on vfs, without systemd cgroups or
// journald: pulls, loads and saves need none of those, and on a host with hybrid cgroups and
// no systemd podman's defaults refuse to start.
func PodmanArgs(dir string) []string {
	return []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none"}
}

// Podman requires a podman that starts with PodmanArgs, as root.
var Podman = Requirement{"podman", func() string {
	if _, err := exec.LookPath("podman"); err != nil {
		return "podman is not installed (make test installs it with apt)"
	}
	if os.Geteuid() != 0 {
		return "podman with a private root needs root"
	}
	dir, err := os.MkdirTemp("", "strata-podman-probe")
	if err != nil {
		return err.Error()
	}
	defer os.RemoveAll(dir)
	if out, err := exec.Command("podman", append(PodmanArgs(dir), "info")...).CombinedOutput(); err != nil {
		return "podman does not start on this host: " + err.Error() + ": " + string(out)
	}
	return ""
}}
