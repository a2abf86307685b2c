package runner

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// deviceStep is deviceAt for a host path, as the device tests call it.
func deviceStep(s Step, target string) error {
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return deviceAt(s, fd, filepath.Base(target))
}

// inPrivateMountNamespace runs fn on a thread of its own, in a mount namespace of its own whose
// mounts propagate nowhere; the namespace, and all fn mounted in it, ends with the thread, even
// when fn fails.
func inPrivateMountNamespace(t testing.TB, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	onThrowawayThread(func() {
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
				return err
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return err
			}
			return fn()
		}()
	})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// mountpointsUnder lists the mount points of this thread's mount namespace that are dir or
// lie beneath it.
func mountpointsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var found []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		// Mountinfo escapes spaces and the like as octal; the test's paths have none.
		if mp := fields[4]; mp == dir || strings.HasPrefix(mp, dir+"/") {
			found = append(found, mp)
		}
	}
	return found, sc.Err()
}

// TestApplyRaceSymlinkExchange is the runc CVE-2021-30465 race: a container sharing a volume
// with this one swaps a component of a mount target for a symlink to the host ("/", or here a
// host dir) between the init's check of the path and its mount. A goroutine exchanges a dir
// (or file) of the rootfs with a symlink to a host dir in a loop while the plan's steps run:
// nothing may ever be mounted or made in the host dir. Before the init mounted on a descriptor
// opened inside the root, the kernel followed the link swapped in at mount time.
func TestApplyRaceSymlinkExchange(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	const rounds = 300
	srcDir := t.TempDir()
	srcFile := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(srcFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file bool // the swapped entry is a file (the link then leads to a host file)
		step Step
	}{
		{"bind", false, Step{Op: OpBind, Source: srcDir, Target: "/data/x"}},
		{"read-only bind", false, Step{Op: OpBind, Source: srcDir, Target: "/data/x", Flags: unix.MS_RDONLY | unix.MS_NOSUID, Propagation: unix.MS_PRIVATE}},
		{"tmpfs", false, Step{Op: OpMount, Source: "tmpfs", FSType: "tmpfs", Target: "/data/x"}},
		{"file bind", true, Step{Op: OpBind, Source: srcFile, Target: "/data/x"}},
		{"bind's new mountpoint", false, Step{Op: OpBind, Source: srcDir, Target: "/data/x/new"}},
		{"file bind's new mountpoint", false, Step{Op: OpBind, Source: srcFile, Target: "/data/x/new"}},
		{"tmpfs's new mountpoint", false, Step{Op: OpMount, Source: "tmpfs", FSType: "tmpfs", Target: "/data/x/new/deeper"}},
		{"device", false, Step{Op: OpDevice, Source: "/dev/null", Target: "/data/x/null"}},
		{"null", false, Step{Op: OpNull, Target: "/data/x/null"}},
		{"symlink", false, Step{Op: OpSymlink, Source: "pts/ptmx", Target: "/data/x/ptmx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rootfs := filepath.Join(dir, "rootfs")
			host := filepath.Join(dir, "host")
			if err := os.MkdirAll(filepath.Join(rootfs, "data"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(host, 0o755); err != nil {
				t.Fatal(err)
			}
			swapped, link := filepath.Join(rootfs, "data", "x"), host
			if tt.file {
				link = filepath.Join(host, "file")
				if err := os.WriteFile(link, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(swapped, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Mkdir(swapped, 0o755); err != nil {
				t.Fatal(err)
			}
			other := filepath.Join(rootfs, "data", "link")
			if err := os.Symlink(link, other); err != nil {
				t.Fatal(err)
			}

			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					_ = unix.Renameat2(unix.AT_FDCWD, swapped, unix.AT_FDCWD, other, unix.RENAME_EXCHANGE)
				}
			}()
			var landed []string
			var applied int
			var lastErr, calmErr error
			inPrivateMountNamespace(t, func() error {
				stopped := false
				stopSwapping := func() {
					if !stopped {
						stopped = true
						close(stop)
						wg.Wait()
					}
				}
				defer stopSwapping()
				for range rounds {
					a := newPlanApplier(rootfs)
					a.nullSrc = "/dev/null"
					// Losing the race may fail a step (the device exists, a link was
					// swapped in while a dir was made), never make it escape.
					if err := a.apply([]Step{tt.step}); err != nil {
						lastErr = err
					} else {
						applied++
					}
					a.close()
				}
				// The swapper may have held one state for every round (a loaded machine,
				// one CPU): the step must still apply once the race is over, or the rounds
				// tested nothing.
				stopSwapping()
				if applied == 0 {
					if fi, err := os.Lstat(swapped); err == nil && fi.Mode()&os.ModeSymlink != 0 {
						if err := unix.Renameat2(unix.AT_FDCWD, swapped, unix.AT_FDCWD, other, unix.RENAME_EXCHANGE); err != nil {
							return err
						}
					}
					a := newPlanApplier(rootfs)
					a.nullSrc = "/dev/null"
					calmErr = a.apply([]Step{tt.step})
					a.close()
				}
				var err error
				landed, err = mountpointsUnder(host)
				return err
			})
			if applied == 0 {
				t.Logf("%s: no round of the race applied the step; the last error: %v", tt.step.Op, lastErr)
				if calmErr != nil {
					t.Errorf("%s: the step fails without a race too: %v", tt.step.Op, calmErr)
				}
			}
			if len(landed) > 0 {
				t.Errorf("%s: mounted on the host dir %d times, at %s", tt.step.Op, len(landed), landed[0])
			}
			entries, err := os.ReadDir(host)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Name() != "file" || !tt.file {
					t.Errorf("%s: made %s in the host dir", tt.step.Op, e.Name())
				}
			}
		})
	}
}

// TestApplyMaskThroughSymlink: the masks and read-only paths are the kernel's files; a
// symlink on their way (a volume mounted under /sys, say) leads elsewhere, where nothing of
// the kernel's is to hide: the step is skipped, never applied to the root or another file of
// the container.
func TestApplyMaskThroughSymlink(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	for _, op := range []Op{OpMask, OpReadOnly} {
		for _, link := range []string{"/", "../../../..", "/etc"} {
			t.Run(fmt.Sprintf("%s %s", op, link), func(t *testing.T) {
				rootfs := filepath.Join(t.TempDir(), "rootfs")
				virtual := filepath.Join(rootfs, "sys", "devices", "virtual")
				if err := os.MkdirAll(virtual, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(link, filepath.Join(virtual, "powercap")); err != nil {
					t.Fatal(err)
				}
				inPrivateMountNamespace(t, func() error {
					a := newPlanApplier(rootfs)
					defer a.close()
					if err := a.apply([]Step{{Op: op, Target: "/sys/devices/virtual/powercap"}}); err != nil {
						return fmt.Errorf("apply = %w, want the step skipped", err)
					}
					landed, err := mountpointsUnder(rootfs)
					if err == nil && len(landed) > 0 {
						err = fmt.Errorf("%s through a symlink mounted on %v", op, landed)
					}
					return err
				})
			})
		}
	}
}

// TestApplyTargetsKept: the steps still make what docker makes: a missing mountpoint as a dir,
// or an empty file for a file's bind, through the image's symlinks (a dangling one too) inside
// the root; flags reach the bind, and a kernel filesystem's mountpoint may not be a symlink.
func TestApplyTargetsKept(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	srcDir := t.TempDir()
	srcFile := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(srcFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"etc", "real", "proc"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, to := range map[string]string{"abs": "/real", "rel": "../../real", "dangling": "/made/here", "sys": "/real"} {
		if err := os.Symlink(to, filepath.Join(rootfs, link)); err != nil {
			t.Fatal(err)
		}
	}
	inPrivateMountNamespace(t, func() error {
		a := newPlanApplier(rootfs)
		defer a.close()
		if err := a.apply([]Step{
			{Op: OpBind, Source: srcDir, Target: "/abs/d", Flags: unix.MS_RDONLY},
			{Op: OpBind, Source: srcFile, Target: "/rel/f"},
			{Op: OpMount, Source: "tmpfs", FSType: "tmpfs", Target: "/dangling/t"},
			{Op: OpBind, Source: srcFile, Target: "/etc/hosts"},
		}); err != nil {
			return err
		}
		for p, dir := range map[string]bool{"real/d": true, "real/f": false, "made/here/t": true, "etc/hosts": false} {
			st, err := os.Stat(filepath.Join(rootfs, p))
			if err != nil {
				return err
			}
			if st.IsDir() != dir {
				return fmt.Errorf("%s: dir %v, want %v", p, st.IsDir(), dir)
			}
			if landed, err := mountpointsUnder(filepath.Join(rootfs, p)); err != nil || len(landed) != 1 {
				return fmt.Errorf("mounts at %s: %v, %v; want one", p, landed, err)
			}
		}
		if err := unix.Access(filepath.Join(rootfs, "real/d"), unix.W_OK); !errors.Is(err, unix.EROFS) {
			return fmt.Errorf("access(W_OK) of the read-only bind = %v, want EROFS", err)
		}
		err := a.apply([]Step{{Op: OpMount, Source: "sysfs", FSType: "sysfs", Target: "/sys"}})
		if err == nil || !strings.Contains(err.Error(), "/sys in the image is a symlink") {
			return fmt.Errorf("sysfs on a symlink: %v, want refused", err)
		}
		err = a.apply([]Step{{Op: OpBind, Source: srcFile, Target: "/real"}})
		if want := "mounting rootfs: bind /real: mount /real: is a directory"; err == nil || err.Error() != want {
			return fmt.Errorf("a file bound on a dir: %v, want %q", err, want)
		}
		return nil
	})
}

// BenchmarkApplyPlan times the steps a start applies before the pivot (but the root's mount:
// a tmpfs here, made and dropped each round with the four dirs an image has), in a mount
// namespace of its own: the init's share of `strata run` that mounttarget_linux.go changed.
func BenchmarkApplyPlan(b *testing.B) {
	testutil.Requires(b, testutil.Root)
	dir := b.TempDir()
	for _, f := range etcFiles {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var steps []Step
	for _, s := range plan(Spec{Dir: dir}) {
		if s.Op == OpPivot {
			break
		}
		if s.Op != OpRoot && s.Op != OpJoin {
			steps = append(steps, s)
		}
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		b.Fatal(err)
	}
	inPrivateMountNamespace(b, func() error {
		for range b.N {
			if err := unix.Mount("tmpfs", rootfs, "tmpfs", 0, ""); err != nil {
				return err
			}
			for _, d := range []string{"proc", "dev", "sys", "etc"} {
				if err := unix.Mkdir(filepath.Join(rootfs, d), 0o755); err != nil {
					return err
				}
			}
			a := newPlanApplier(rootfs)
			err := a.apply(steps)
			a.close()
			if err != nil {
				return err
			}
			if err := unix.Unmount(rootfs, unix.MNT_DETACH); err != nil {
				return err
			}
		}
		return nil
	})
}
