package runner

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// The devices cgroup, not the capability, decides what a container may open: with CAP_MKNOD it
// can make a node for a disk (8:0, sda), but opening that node is refused (EPERM), while the
// default devices work. /dev is a tmpfs without nodev, so only the cgroup stands in the way.
// A privileged container may open it (it finds no disk there on a host without sda: ENXIO,
// never EPERM).
func TestRunDevicesCgroup(t *testing.T) {
	const script = `mknod /dev/sda b 8 0 && echo made
head -c1 /dev/zero >/dev/null && echo zero-ok
echo x > /dev/null && echo null-ok
head -c1 /dev/sda 2>&1 >/dev/null`
	tests := []struct {
		name       string
		privileged bool
		want       []string
		notWant    string
	}{
		{"default", false, []string{"made", "zero-ok", "null-ok", "Operation not permitted"}, ""},
		{"privileged", true, []string{"made", "zero-ok", "null-ok"}, "Operation not permitted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec(t, "sh", "-c", script)
			spec.CapAdd = []string{"MKNOD"}
			spec.Privileged = tt.privileged
			_, out, errOut, err := runOut(t, spec)
			if err != nil {
				t.Fatalf("Run = %v; stderr: %s", err, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("the container printed %q, want %q in it (stderr %q)", out, w, errOut)
				}
			}
			if tt.notWant != "" && strings.Contains(out, tt.notWant) {
				t.Errorf("the container printed %q, want no %q", out, tt.notWant)
			}
		})
	}
}

// TestDeviceStepNode: a default device is a node of the host's numbers and mode.
func TestDeviceStepNode(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	target := filepath.Join(t.TempDir(), "dev", "null")
	if err := deviceStep(Step{Op: OpDevice, Source: "/dev/null", Target: "/dev/null"}, target); err != nil {
		t.Fatal(err)
	}
	var host, got unix.Stat_t
	if err := unix.Stat("/dev/null", &host); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lstat(target, &got); err != nil {
		t.Fatal(err)
	}
	if got.Mode != host.Mode || got.Rdev != host.Rdev || got.Uid != host.Uid || got.Gid != host.Gid {
		t.Errorf("node mode %o rdev %d uid %d gid %d; want the host's %o %d %d %d",
			got.Mode, got.Rdev, got.Uid, got.Gid, host.Mode, host.Rdev, host.Uid, host.Gid)
	}
	if err := deviceStep(Step{Op: OpDevice, Source: "/etc/hostname", Target: "/dev/x"}, target+"x"); err == nil {
		t.Error("deviceStep made a device of a regular file")
	}
}

// TestDeviceStepBindWithoutMknod: where mknod is refused (no CAP_MKNOD) the device is a bind
// of the host's. The test runs on a thread of its own with its own mount namespace and
// capabilities, which ends with it.
func TestDeviceStepBindWithoutMknod(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	target := filepath.Join(t.TempDir(), "null")
	errc := make(chan error, 1)
	onThrowawayThread(func() {
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
				return err
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return err
			}
			hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
			var data [2]unix.CapUserData
			if err := unix.Capget(&hdr, &data[0]); err != nil {
				return err
			}
			data[0].Effective &^= 1 << unix.CAP_MKNOD
			if err := unix.Capset(&hdr, &data[0]); err != nil {
				return err
			}
			if err := deviceStep(Step{Op: OpDevice, Source: "/dev/null", Target: "/dev/null"}, target); err != nil {
				return err
			}
			var host, got unix.Stat_t
			for p, st := range map[string]*unix.Stat_t{"/dev/null": &host, target: &got} {
				if err := unix.Stat(p, st); err != nil {
					return err
				}
			}
			if got.Rdev != host.Rdev || got.Dev != host.Dev || got.Ino != host.Ino {
				return fmt.Errorf("%s is not the host's /dev/null bound there (dev %d ino %d rdev %d)", target, got.Dev, got.Ino, got.Rdev)
			}
			return nil
		}()
	})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
