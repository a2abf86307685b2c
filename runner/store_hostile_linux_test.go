package runner

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// A container is files that power loss truncates, users edit and a killed strata leaves half
// written. These tests damage each file of a container dir in the ways that happen, and check
// that the container stays visible (ps -a), removable (rm, by name too) and that nothing
// reads, writes or unmounts through what is in a file's place.

// within fails the test if fn has not returned after d: a FIFO in a file's place must not
// hang strata.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s still blocked after %v", what, d)
	}
}

// damage puts something other than what strata wrote at name.
type damage struct {
	name string
	do   func(t *testing.T, path string)
}

func writeFile(content string) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

var damages = []damage{
	{"missing", func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}},
	{"empty", writeFile("")},
	{"truncated", writeFile(`{"spec": {"args": ["sh"`)},
	{"garbage", writeFile("\x00\x01\xffnot json")},
	{"wrong type", writeFile(`{"spec": 5, "status": 7}`)},
	{"huge", func(t *testing.T, path string) {
		// Sparse: costs no disk, but reading it whole would cost 1 GiB of memory.
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(1 << 30); err != nil {
			t.Fatal(err)
		}
	}},
	{"fifo", func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mkfifo(path, 0o600); err != nil {
			t.Fatal(err)
		}
	}},
	{"symlink to a host file", func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/etc/passwd", path); err != nil {
			t.Fatal(err)
		}
	}},
	{"directory", func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(path, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
	}},
}

// TestStoreBrokenConfig: a container whose config.json is damaged is listed as dead under its
// name, found by name, ID and prefix, refused by start and restart, and removed by rm,
// which frees its name.
func TestStoreBrokenConfig(t *testing.T) {
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			s, c := newStoreWith(t, "victim")
			d.do(t, filepath.Join(c.Dir, configFile))
			var list []*Container
			var err error
			within(t, 10*time.Second, "List", func() { list, err = s.List() })
			if err != nil || len(list) != 1 {
				t.Fatalf("List = %v, %v; want the broken container", list, err)
			}
			got := list[0]
			if got.ID != c.ID || !errors.Is(got.Broken, ErrBroken) || got.State.Status != StatusDead || got.Name() != "victim" {
				t.Errorf("List()[0] = %s %q broken %v status %s; want %s \"victim\", ErrBroken, dead", got.ID, got.Name(), got.Broken, got.State.Status, c.ID)
			}
			for _, ref := range []string{"victim", c.ID, c.ID[:12]} {
				if g, err := s.Get(ref); err != nil || g.ID != c.ID {
					t.Errorf("Get(%q) = %v, %v; want %s", ref, g, err, c.ID[:12])
				}
			}
			if _, err := s.Create(Config{Name: "victim"}); !errors.Is(err, ErrNameInUse) {
				t.Errorf("Create(victim) while the broken one holds it = %v, want ErrNameInUse", err)
			}
			if err := Start(context.Background(), got); !errors.Is(err, ErrBroken) {
				t.Errorf("Start(broken) = %v, want ErrBroken", err)
			}
			if err := Restart(context.Background(), got, time.Second); !errors.Is(err, ErrBroken) {
				t.Errorf("Restart(broken) = %v, want ErrBroken", err)
			}
			if err := Kill(got, unix.SIGTERM); !errors.Is(err, ErrNotRunning) {
				t.Errorf("Kill(broken) = %v, want ErrNotRunning", err)
			}
			if _, err := Exec(context.Background(), got, ExecOptions{Args: []string{"true"}}, Stdio{}); !errors.Is(err, ErrBroken) {
				t.Errorf("Exec(broken) = %v, want ErrBroken", err)
			}
			if err := Stop(context.Background(), got, time.Second); err != nil {
				t.Errorf("Stop(broken) = %v, want nil (not running)", err)
			}
			byName, err := s.Get("victim")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Remove(context.Background(), byName, false); err != nil {
				t.Fatalf("Remove(broken) = %v", err)
			}
			if _, err := os.Lstat(c.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("container dir after Remove: %v, want gone", err)
			}
			if _, err := s.Create(Config{Name: "victim"}); err != nil {
				t.Errorf("Create(victim) after removing the broken one = %v", err)
			}
		})
	}
}

// TestStoreBrokenState: a damaged state.json reads as an exit of unknown status (its
// processes cannot be shown to run), without hanging or reading through it, and rm removes it.
func TestStoreBrokenState(t *testing.T) {
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			s, c := newStoreWith(t, "victim")
			d.do(t, filepath.Join(c.Dir, stateFile))
			var got *Container
			var err error
			within(t, 10*time.Second, "Get", func() { got, err = s.Get("victim") })
			if err != nil {
				t.Fatalf("Get(victim) = %v", err)
			}
			if got.Broken != nil || got.State.Status != StatusExited || got.State.ExitCode != ExitUnknown {
				t.Errorf("state %s: broken %v, state %+v; want exited %d", d.name, got.Broken, got.State, ExitUnknown)
			}
			if list, err := s.List(); err != nil || len(list) != 1 {
				t.Errorf("List = %v, %v; want the container", list, err)
			}
			if err := s.Remove(context.Background(), got, false); err != nil {
				t.Fatalf("Remove = %v", err)
			}
			if _, err := os.Lstat(c.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("container dir after Remove: %v, want gone", err)
			}
		})
	}
}

// TestStoreEntryNotDir: a container entry that is a symlink (to a dir holding a container's
// files, or to /), a FIFO or a file is listed as dead and removed as the entry alone: nothing
// is read, locked or created through it.
func TestStoreEntryNotDir(t *testing.T) {
	for _, kind := range []string{"symlink to a container", "symlink to /", "fifo", "file"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenStore(filepath.Join(dir, "containers"))
			if err != nil {
				t.Fatal(err)
			}
			elsewhere, err := OpenStore(filepath.Join(dir, "elsewhere"))
			if err != nil {
				t.Fatal(err)
			}
			real, err := elsewhere.Create(Config{Name: "real", Image: "alpine"})
			if err != nil {
				t.Fatal(err)
			}
			entry := filepath.Join(s.Dir(), real.ID)
			switch kind {
			case "symlink to a container":
				err = os.Symlink(real.Dir, entry)
			case "symlink to /":
				err = os.Symlink("/", entry)
			case "fifo":
				err = unix.Mkfifo(entry, 0o600)
			case "file":
				err = os.WriteFile(entry, []byte("{}"), 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(real.ID, s.nameLink("alias")); err != nil {
				// .names does not exist before the first create: make it.
				if err := s.ensureNameIndex(); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(real.ID, s.nameLink("alias")); err != nil {
					t.Fatal(err)
				}
			}
			var list []*Container
			within(t, 10*time.Second, "List", func() { list, err = s.List() })
			if err != nil || len(list) != 1 || !errors.Is(list[0].Broken, ErrBroken) || list[0].State.Status != StatusDead || list[0].Name() != "alias" {
				t.Fatalf("List = %v, %v; want one dead container named alias", list, err)
			}
			c, err := s.Get("alias")
			if err != nil {
				t.Fatalf("Get(alias) = %v", err)
			}
			if _, err := Wait(context.Background(), c); !errors.Is(err, ErrBroken) {
				t.Errorf("Wait = %v, want ErrBroken", err)
			}
			if err := s.Remove(context.Background(), c, true); err != nil {
				t.Fatalf("Remove = %v", err)
			}
			if _, err := os.Lstat(entry); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("entry after Remove: %v, want gone", err)
			}
			if _, err := os.Lstat(s.nameLink("alias")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("name link after Remove: %v, want gone", err)
			}
			if _, err := os.Lstat(filepath.Join(real.Dir, configFile)); err != nil {
				t.Errorf("the symlink's target lost its config.json: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(real.Dir, lockFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a lock file was made through the symlink: %v", err)
			}
			if _, err := os.Lstat("/" + lockFile); err == nil {
				t.Errorf("/%s exists: made through the symlink?", lockFile)
			}
		})
	}
}

// TestStoreLockNoFollow: a lock file that is a symlink is not followed: locking through it
// would create (and lock) the file it names on the host.
func TestStoreLockNoFollow(t *testing.T) {
	_, c := newStoreWith(t, "xx")
	target := filepath.Join(t.TempDir(), "nologin")
	if err := os.Symlink(target, filepath.Join(c.Dir, lockFile)); err != nil {
		t.Fatal(err)
	}
	if unlock, err := c.Lock(); err == nil {
		unlock()
		t.Errorf("Lock through a symlink succeeded")
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock symlink's target was created: %v", err)
	}
}

// TestStoreLockFIFO: a FIFO at the store's or a container's lock path fails create, rename
// and lock at once; gofrs/flock opened it O_RDONLY, which blocks until a writer comes, and
// every create (so every run) hung for good.
func TestStoreLockFIFO(t *testing.T) {
	s, c := newStoreWith(t, "xx")
	if err := unix.Mkfifo(filepath.Join(c.Dir, lockFile), 0o600); err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, "Lock on a FIFO", func() {
		if unlock, err := c.Lock(); err == nil {
			unlock()
			t.Errorf("Lock on a FIFO succeeded")
		}
	})
	if err := os.Remove(filepath.Join(s.dir, ".lock")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(s.dir, ".lock"), 0o600); err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, "Create with a FIFO store lock", func() {
		if _, err := s.Create(Config{Name: "yy", Image: "alpine"}); err == nil {
			t.Errorf("Create with a FIFO store lock succeeded")
		}
	})
	within(t, 5*time.Second, "Rename with a FIFO store lock", func() {
		if err := s.Rename(c, "z"); err == nil {
			t.Errorf("Rename with a FIFO store lock succeeded")
		}
	})
}

// TestStoreRemoveHalfDone: an rm killed after it removed state.json and config.json, or a
// create killed before it wrote either, leaves a dir that is still listed and removed.
func TestStoreRemoveHalfDone(t *testing.T) {
	for _, gone := range [][]string{{stateFile}, {stateFile, configFile}, {configFile, lockFile}} {
		t.Run(strings.Join(gone, "+"), func(t *testing.T) {
			s, c := newStoreWith(t, "half")
			for _, f := range gone {
				_ = os.Remove(filepath.Join(c.Dir, f))
			}
			list, err := s.List()
			if err != nil || len(list) != 1 {
				t.Fatalf("List = %v, %v; want the half-removed container", list, err)
			}
			got, err := s.Get("half")
			if err != nil {
				t.Fatalf("Get(half) = %v", err)
			}
			if gone[0] == stateFile {
				if code, err := Wait(context.Background(), got); err != nil || code != ExitUnknown {
					t.Errorf("Wait without state.json = %d, %v; want %d", code, err, ExitUnknown)
				}
			}
			if err := s.Remove(context.Background(), got, true); err != nil {
				t.Fatalf("Remove = %v", err)
			}
			if _, err := os.Lstat(c.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("container dir after Remove: %v, want gone", err)
			}
		})
	}
}

// TestStoreNameIndexNotDir: a file in the name index's place is replaced by a rebuilt index,
// instead of failing every create with "not a directory".
func TestStoreNameIndexNotDir(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Create(Config{Name: "aa", Image: "alpine"})
	if err != nil {
		t.Fatal(err)
	}
	idx := filepath.Join(s.Dir(), namesDir)
	if err := os.RemoveAll(idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(idx, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(Config{Name: "bb", Image: "alpine"}); err != nil {
		t.Fatalf("Create with a file as the name index = %v", err)
	}
	if _, err := s.Create(Config{Name: "aa", Image: "alpine"}); !errors.Is(err, ErrNameInUse) {
		t.Errorf("Create(a) after the index was rebuilt = %v, want ErrNameInUse", err)
	}
	if got, err := s.Get("aa"); err != nil || got.ID != a.ID {
		t.Errorf("Get(a) = %v, %v; want %s", got, err, a.ID[:12])
	}
}

// TestRemoveRootfsSymlink: a container whose rootfs is a symlink (a hand edit) is removed
// without unmounting anything under the symlink's target: unmounting "under rootfs" with
// rootfs -> / would detach every mount of the host.
func TestRemoveRootfsSymlink(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	s, c := newStoreWith(t, "xx")
	host := t.TempDir() // stands for /: a mount under it must survive
	mnt := filepath.Join(host, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("skipping: mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	if err := os.Symlink(host, filepath.Join(c.Dir, "rootfs")); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(context.Background(), c, true); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	if mounted, err := mountinfo.Mounted(mnt); err != nil || !mounted {
		t.Errorf("the mount under rootfs's target is gone (%v, %v): Remove unmounted through the symlink", mounted, err)
	}
	if _, err := os.Lstat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("container dir after Remove: %v, want gone", err)
	}
}

// TestKillForeignChild: a forged running state naming a live monitor (this process, with its
// true start time) and one of its children that is no container is not signalled: the
// child is in no cgroup of the container's ID.
func TestKillForeignChild(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "forged"})
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = child.Process.Kill() // ours: started above
		_ = child.Wait()
	})
	start, err := processStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	c.State = State{Status: StatusRunning, Pid: child.Process.Pid, MonitorPid: os.Getpid(), MonitorStart: start}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	if err := Kill(c, unix.SIGTERM); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Kill(forged state) = %v, want ErrNotRunning", err)
	}
	for _, join := range []func() (int, error){
		func() (int, error) {
			return Exec(context.Background(), c, ExecOptions{Args: []string{"true"}}, Stdio{})
		},
		func() (int, error) {
			return Enter(context.Background(), c, EnterOptions{Args: []string{"true"}}, Stdio{})
		},
	} {
		if _, err := join(); !errors.Is(err, ErrNotRunning) {
			t.Errorf("Exec/Enter(forged state) = %v, want ErrNotRunning", err)
		}
	}
	if err := s.Remove(context.Background(), c, true); err != nil {
		t.Errorf("Remove(forged state, force) = %v", err)
	}
	if _, err := processStart(child.Process.Pid); err != nil {
		t.Fatalf("the foreign child got a signal: %v", err)
	}
}

// TestStoreNameIndexStale: index links that name a missing ID, a container of another name
// (two names at one ID) or no ID at all find nothing, and their names are free to take.
func TestStoreNameIndexStale(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	web, err := s.Create(Config{Name: "web", Image: "alpine"})
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"ghost": strings.Repeat("f", 64), // a container removed behind the index's back
		"alias": web.ID,                  // a second name at one ID
		"climb": "../../../etc",
		"empty": "",
	}
	for name, target := range links {
		if target == "" {
			if err := os.WriteFile(s.nameLink(name), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.Symlink(target, s.nameLink(name)); err != nil {
			t.Fatal(err)
		}
	}
	for name := range links {
		if c, err := s.Get(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, %v; want ErrNotFound", name, c, err)
		}
		c, err := s.Create(Config{Name: name, Image: "alpine"})
		if err != nil {
			t.Errorf("Create(%q) over a stale link = %v", name, err)
			continue
		}
		if got, err := s.Get(name); err != nil || got.ID != c.ID {
			t.Errorf("Get(%q) after Create = %v, %v; want %s", name, got, err, c.ID[:12])
		}
	}
	if got, err := s.Get("web"); err != nil || got.ID != web.ID {
		t.Errorf("Get(web) = %v, %v; want %s", got, err, web.ID[:12])
	}
}

// TestStoreCopiedConfig: a config.json copied from another container's dir makes a broken
// container: started, it would run in the other's cgroup over the other's writable layer.
func TestStoreCopiedConfig(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Create(Config{Name: "aa", Image: "alpine"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Create(Config{Name: "bb", Image: "alpine"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(a.Dir, configFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.Dir, configFile), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(got.Broken, ErrBroken) || !strings.Contains(got.Broken.Error(), a.ID[:12]) {
		t.Errorf("container with a's config: broken %v, want ErrBroken naming %s", got.Broken, a.ID[:12])
	}
	if err := Start(context.Background(), got); !errors.Is(err, ErrBroken) {
		t.Errorf("Start = %v, want ErrBroken", err)
	}
	if got, err := s.Get("bb"); err != nil || got.ID != b.ID {
		t.Errorf("Get(b) = %v, %v; want %s (by its name link)", got, err, b.ID[:12])
	}
	if got, err := s.Get("aa"); err != nil || got.ID != a.ID || got.Broken != nil {
		t.Errorf("Get(a) = %v, %v; want the sound %s", got, err, a.ID[:12])
	}
}

// TestLifecycleMarksNoFollow: the files restart and a --rm container's waiters make in the
// container dir are not written through a symlink (restart truncated the host file it
// named) nor waited on as a FIFO (wait hung).
func TestLifecycleMarksNoFollow(t *testing.T) {
	s, c := newStoreWith(t, "xx")
	host := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(host, []byte("root:x:0:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(c.Dir, restartingFile)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = Restart(ctx, c, time.Second) // it has nothing to run: the mark is what matters
	if b, err := os.ReadFile(host); err != nil || string(b) != "root:x:0:0\n" {
		t.Errorf("the host file behind the restart mark holds %q, %v; want it untouched", b, err)
	}

	r, err := s.Create(Config{Name: "rm", Image: "alpine", AutoRemove: true})
	if err != nil {
		t.Fatal(err)
	}
	waiters := filepath.Join(r.Dir, waitersFile)
	if err := os.Remove(waiters); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(waiters, 0o600); err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "Wait with a FIFO as waiters", func() {
		if _, err := Wait(ctx, r); err != nil {
			t.Errorf("Wait = %v", err)
		}
	})
	within(t, 10*time.Second, "waitForWaiters with a FIFO as waiters", func() { waitForWaiters(r)() })
}

// TestStartUpperSymlink: a container whose upper dir is a symlink to a host dir does not
// start: overlayfs would follow it and the container would write into that host dir.
func TestStartUpperSymlink(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "touch", "/pwned")
	host := t.TempDir()
	upper := filepath.Join(c.Dir, "upper")
	if err := os.Remove(upper); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, upper); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Start(ctx, c); err == nil {
		_, _ = Wait(ctx, c)
		t.Errorf("Start with upper -> %s succeeded", host)
	}
	if _, err := os.Lstat(filepath.Join(host, "pwned")); err == nil {
		t.Errorf("the container wrote into the host dir behind its upper symlink")
	}
}

// newStoreWith opens a container store in a temp dir and creates one alpine container named
// name in it.
func newStoreWith(t *testing.T, name string) (*Store, *Container) {
	t.Helper()
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: name, Image: "alpine"})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}
