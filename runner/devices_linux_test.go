package runner

import (
	"fmt"
	"os"
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

// TestUserDeviceStep: a --device's node goes where the image's symlinks lead inside the root,
// never out of it nor into /proc or /sys; it replaces the image's file there, but not a
// directory or another device (a /dev/null not kept stays: TestUserDeviceCoversKeptNull).
func TestUserDeviceStep(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	rootfs := t.TempDir()
	for _, d := range []string{"etc", "dir", "dev", "proc"} {
		if err := os.Mkdir(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, to := range map[string]string{"data": "/proc", "sysl": "../sys/x", "up": "../../../../../../tmp", "etc/link": "/etc/passwd"} {
		if err := os.Symlink(to, filepath.Join(rootfs, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc", "passwd"), []byte("root:x:0:0::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(rootfs, "dev", "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	hostTmp := filepath.Join("/tmp", filepath.Base(rootfs)+"-escaped")
	for _, tt := range []struct {
		target, made, wantErr string
	}{
		{"/etc/passwd", "etc/passwd", ""},
		{"/etc/link", "etc/link", ""}, // the link itself is replaced, not what it names
		{"/up/" + filepath.Base(hostTmp), "tmp/" + filepath.Base(hostTmp), ""},
		{"/new/sub/n", "new/sub/n", ""},
		{"/dev/null", "dev/null", ""}, // the same device: kept
		{"/data/x", "", "leads to /proc"},
		{"/sysl/y", "", "leads to /sys"},
		{"/dir", "", "a directory is there"},
	} {
		a := newPlanApplier(rootfs)
		err := a.apply([]Step{{Op: OpUserDevice, Source: "/dev/null", Target: tt.target}})
		a.close()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("device at %s: %v, want %q", tt.target, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("device at %s: %v", tt.target, err)
			continue
		}
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(rootfs, tt.made), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
			t.Errorf("device at %s: %s is mode %o rdev %d (%v), want the null device", tt.target, tt.made, st.Mode, st.Rdev, err)
		}
	}
	if _, err := os.Lstat(hostTmp); err == nil {
		os.Remove(hostTmp)
		t.Errorf("a device was made on the host at %s", hostTmp)
	}
	// Another device where the user's goes: refused, the container's null stays.
	a := newPlanApplier(rootfs)
	defer a.close()
	if err := a.apply([]Step{{Op: OpUserDevice, Source: "/dev/zero", Target: "/dev/null"}}); err == nil || !strings.Contains(err.Error(), "another device (1:3)") {
		t.Errorf("/dev/zero at the container's /dev/null: %v, want it refused", err)
	}
	if err := a.apply([]Step{{Op: OpUserDevice, Source: "/etc/hostname", Target: "/dev/h"}}); err == nil {
		t.Error("a regular file was made a device")
	}
}

// TestUserDeviceCoversKeptNull: a --device at /dev/null covers the container's null
// device kept for the masks (OpKeepNull), which stays linked beneath it and the null device
// the masks bind: an unlinked node could not be bound.
func TestUserDeviceCoversKeptNull(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	rootfs := t.TempDir()
	if err := os.Mkdir(filepath.Join(rootfs, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(rootfs, "dev", "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "masked"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	onThrowawayThread(func() {
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
				return err
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return err
			}
			a := newPlanApplier(rootfs)
			defer a.close()
			if err := a.apply([]Step{{Op: OpKeepNull, Target: "/dev/null"}, {Op: OpUserDevice, Source: "/dev/zero", Target: "/dev/null"}}); err != nil {
				return fmt.Errorf("/dev/zero at the container's kept /dev/null: %w", err)
			}
			var st unix.Stat_t
			if err := unix.Stat(filepath.Join(rootfs, "dev", "null"), &st); err != nil || st.Rdev != unix.Mkdev(1, 5) {
				return fmt.Errorf("/dev/null is rdev %d:%d (%v), want the user's zero device", unix.Major(st.Rdev), unix.Minor(st.Rdev), err)
			}
			if names, _ := os.ReadDir(filepath.Join(rootfs, "dev")); len(names) != 1 {
				return fmt.Errorf("/dev holds %v, want null alone", names)
			}
			if err := unix.Mount(a.nullSrc, filepath.Join(rootfs, "masked"), "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("binding the kept null device: %w", err)
			}
			if err := unix.Stat(filepath.Join(rootfs, "masked"), &st); err != nil || st.Rdev != unix.Mkdev(1, 3) {
				return fmt.Errorf("the kept device bound is rdev %d:%d (%v), want the null device", unix.Major(st.Rdev), unix.Minor(st.Rdev), err)
			}
			return nil
		}()
	})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestBindDeviceAtChecksSource: the bind of a --device's host node is of the node it
// checked, opened once: a host path swapped for a file after userDevice's check (here, a
// file from the start) binds nothing.
func TestBindDeviceAtChecksSource(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	onThrowawayThread(func() {
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
				return err
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return err
			}
			dfd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(dfd)
			if err := bindDeviceAt(Step{Op: OpUserDevice, Source: secret, Target: "/dev/x"}, dfd, "x"); err == nil {
				b, _ := os.ReadFile(filepath.Join(dir, "x"))
				return fmt.Errorf("a regular file was bound as a device (it reads %q)", b)
			}
			if err := bindDeviceAt(Step{Op: OpUserDevice, Source: "/dev/null", Target: "/dev/n"}, dfd, "n"); err != nil {
				return fmt.Errorf("binding /dev/null: %w", err)
			}
			var st unix.Stat_t
			if err := unix.Stat(filepath.Join(dir, "n"), &st); err != nil || st.Rdev != unix.Mkdev(1, 3) {
				return fmt.Errorf("/dev/null bound: rdev %d (%v)", st.Rdev, err)
			}
			return nil
		}()
	})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
