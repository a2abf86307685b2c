package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestStoreCreateGet(t *testing.T) {
	s, err := OpenStore(filepath.Join(t.TempDir(), "containers"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Create(Config{Name: "web", Image: "alpine"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(a.ID) {
		t.Errorf("ID %q is not 64 hex", a.ID)
	}
	if a.Config.Spec.ID != a.ID || a.Config.Spec.Dir != a.Dir || a.State.Status != StatusCreated {
		t.Errorf("Create = %+v, want spec ID/Dir filled and status created", a)
	}
	b, err := s.Create(Config{Image: "alpine"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[a-z]+_[a-z]+[0-9]*$`).MatchString(b.Config.Name) {
		t.Errorf("generated name %q is not adjective_noun", b.Config.Name)
	}

	_, err = s.Create(Config{Name: "web"})
	var inUse *NameInUseError
	if !errors.As(err, &inUse) || !errors.Is(err, ErrNameInUse) || inUse.ID != a.ID {
		t.Errorf("Create(duplicate name) = %v, want NameInUseError naming %s", err, a.ID)
	}
	for _, bad := range []string{"-x", "a b", "a/b", "_x", ".x", "x!", "é"} {
		if _, err := s.Create(Config{Name: bad}); err == nil {
			t.Errorf("Create(name %q) succeeded, want an error", bad)
		}
	}

	for _, ref := range []string{a.ID, "web", "/web", a.ID[:12]} {
		got, err := s.Get(ref)
		if err != nil || got.ID != a.ID {
			t.Errorf("Get(%q) = %v, %v, want %s", ref, got, err, a.ID[:12])
		}
	}
	if _, err := s.Get("nosuch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(nosuch) = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(""); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(\"\") = %v, want ErrNotFound", err)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 || list[0].ID != a.ID {
		t.Errorf("List = %v, %v, want a then b", list, err)
	}
}

func TestStoreAmbiguousPrefix(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// 17 containers must share a first hex digit (pigeonhole).
	seen := map[byte]bool{}
	var shared string
	for i := 0; i < 17 && shared == ""; i++ {
		c, err := s.Create(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.ID[0]] {
			shared = c.ID[:1]
		}
		seen[c.ID[0]] = true
	}
	if shared == "" {
		t.Fatal("17 IDs with 17 distinct first hex digits")
	}
	if _, err := s.Get(shared); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("Get(%q) = %v, want ErrAmbiguous", shared, err)
	}
}

func TestStoreStaleRunning(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "ghost"})
	if err != nil {
		t.Fatal(err)
	}
	// A running state whose monitor is gone: a pid that cannot exist.
	c.State = State{Status: StatusRunning, Pid: 1 << 30, MonitorPid: 1 << 30, StartedAt: time.Now()}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("ghost")
	if err != nil {
		t.Fatal(err)
	}
	if got.State.Status != StatusExited || got.State.Running() || got.State.ExitCode != ExitUnknown {
		t.Errorf("stale state = %+v, want exited with %d", got.State, ExitUnknown)
	}
	// Our own pid with the wrong start time is a reused pid, not the monitor.
	start, err := processStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	st := State{Status: StatusRunning, MonitorPid: os.Getpid(), MonitorStart: start}
	if !st.Running() {
		t.Errorf("State{own pid, own start}.Running() = false, want true")
	}
	st.MonitorStart = start + 1
	if st.Running() {
		t.Errorf("State{own pid, other start}.Running() = true, want false")
	}
	// No recorded start proves nothing: any process may hold the pid now.
	st.MonitorStart = 0
	if st.Running() {
		t.Errorf("State{own pid, no start}.Running() = true, want false")
	}
}

func TestStoreRemoveNotRunning(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(t.Context(), c, false); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	if _, err := s.Get("gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove = %v, want ErrNotFound", err)
	}
	if err := s.Remove(t.Context(), c, false); err != nil {
		t.Errorf("second Remove = %v, want nil (already gone)", err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "state.json")
	for _, content := range []string{"one", "two"} {
		if err := writeFileAtomic(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil || string(got) != content {
			t.Errorf("after writeFileAtomic(%q): %q, %v", content, got, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("dir holds %v, want only state.json (no temp files left)", entries)
	}
}

func TestStoreLostState(t *testing.T) {
	// state.json is not fsynced: after a host crash it may be empty. The container reads as
	// exited, and can still be removed.
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "crashed"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, stateFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("crashed")
	if err != nil {
		t.Fatalf("Get after a lost state = %v", err)
	}
	if got.State.Status != StatusExited || got.State.ExitCode != ExitUnknown || got.State.Error == "" {
		t.Errorf("lost state = %+v, want exited with %d and an error", got.State, ExitUnknown)
	}
	if err := s.Remove(context.Background(), got, false); err != nil {
		t.Errorf("Remove after a lost state = %v", err)
	}
}

func TestStoreNameIndex(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Create(Config{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(dir, namesDir, "web")); err != nil || target != a.ID {
		t.Fatalf("name link = %q, %v; want %s", target, err, a.ID)
	}
	if got, err := s.Get("web"); err != nil || got.ID != a.ID {
		t.Fatalf("Get(web) = %v, %v; want %s", got, err, a.ID)
	}
	if _, err := s.Create(Config{Name: "web"}); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("second Create(web) = %v, want ErrNameInUse", err)
	}
	// Removing the container frees the name.
	if err := s.Remove(context.Background(), a, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, namesDir, "web")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("name link after Remove: %v, want gone", err)
	}
	b, err := s.Create(Config{Name: "web"})
	if err != nil {
		t.Fatalf("Create(web) after Remove = %v", err)
	}
	// A stale link (its container's dir vanished, a crash mid-remove) does not hold the name.
	if err := os.RemoveAll(b.Dir); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(Config{Name: "web"}); err != nil {
		t.Errorf("Create(web) over a stale link = %v", err)
	}
	// A store from before the index: its names are indexed on the next create.
	if err := os.RemoveAll(filepath.Join(dir, namesDir)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(Config{Name: "web"}); !errors.Is(err, ErrNameInUse) {
		t.Errorf("Create(web) in a store without the index = %v, want ErrNameInUse", err)
	}
	if _, err := s.Create(Config{Name: strings.Repeat("n", maxNameLen+1)}); err == nil {
		t.Errorf("Create with a %d-character name succeeded", maxNameLen+1)
	}
}

// TestStoreCreateDurable: a new container's config.json is in place at once; its fsync is left
// pending for Durable, for a kept container only (a --rm one is not synced at all).
func TestStoreCreateDurable(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kept, err := s.Create(Config{Image: "alpine"})
	if err != nil {
		t.Fatal(err)
	}
	if kept.synced == nil {
		t.Errorf("kept container: no fsync pending")
	}
	if err := kept.Durable(); err != nil {
		t.Errorf("Durable = %v", err)
	}
	if err := kept.Durable(); err != nil {
		t.Errorf("Durable, again = %v", err)
	}
	if got, err := s.Get(kept.ID); err != nil || got.Config.Image != "alpine" {
		t.Errorf("Get after create = %+v, %v", got, err)
	}
	rm, err := s.Create(Config{AutoRemove: true})
	if err != nil {
		t.Fatal(err)
	}
	if rm.synced != nil || rm.Durable() != nil {
		t.Errorf("--rm container: an fsync is pending")
	}
	// A failed sync is reported by Durable.
	bad := &Container{synced: syncInBackground(filepath.Join(t.TempDir(), "missing"))}
	if err := bad.Durable(); err == nil {
		t.Errorf("Durable of a sync that failed = nil")
	}
}

// TestStoreRename: a container answers to its new name only, keeps its ID and config; a
// name another container holds, the same name or an invalid one are refused with nothing
// changed, and the old name is free again.
func TestStoreRename(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Create(Config{Name: "web", Image: "alpine"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(Config{Name: "db"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Rename(a, "/front"); err != nil {
		t.Fatalf("Rename(web, /front) = %v", err)
	}
	got, err := s.Get("front")
	if err != nil || got.ID != a.ID || got.Config.Name != "front" || got.Config.Image != "alpine" {
		t.Fatalf("Get(front) = %+v, %v; want container %s named front, its config kept", got, err, a.ID)
	}
	if _, err := s.Get("web"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(web) after the rename = %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"db", "front", "bad/name", ""} {
		if err := s.Rename(got, bad); err == nil {
			t.Errorf("Rename(front, %q) succeeded", bad)
		}
		if c, err := s.Get("front"); err != nil || c.ID != a.ID {
			t.Errorf("after Rename(front, %q) refused: Get(front) = %v, %v", bad, c, err)
		}
	}
	var nameInUse *NameInUseError
	if err := s.Rename(got, "db"); !errors.As(err, &nameInUse) {
		t.Errorf("Rename to a taken name = %v, want a *NameInUseError", err)
	}
	if _, err := s.Create(Config{Name: "web"}); err != nil {
		t.Errorf("Create(web) after web was renamed = %v", err)
	}
}

// TestStoreModes: only root enters the store and a container's dir, and its config (with the
// -e values) and state are root's alone; a store left looser is tightened when opened.
func TestStoreModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "containers")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "secret", Spec: Spec{Env: []string{"TOKEN=hunter2"}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{
		dir:                              os.ModeDir | 0o700,
		c.Dir:                            os.ModeDir | 0o710,
		filepath.Join(c.Dir, configFile): 0o600,
		filepath.Join(c.Dir, stateFile):  0o600,
	} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		// No looser than want (a umask may make it tighter still).
		if fi.Mode().Type() != want.Type() || fi.Mode().Perm()&^want.Perm() != 0 {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}
}

// TestCreateNameLeadingSlash: docker takes --name /web as web (its API spells names with the
// slash); "/" alone and "//web" are no names.
func TestCreateNameLeadingSlash(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "/web"})
	if err != nil {
		t.Fatalf("Create with --name /web: %v", err)
	}
	if c.Config.Name != "web" {
		t.Errorf("name = %q, want web", c.Config.Name)
	}
	if got, err := s.Get("web"); err != nil || got.ID != c.ID {
		t.Errorf("Get(web) = %v, %v, want the container", got, err)
	}
	for _, bad := range []string{"/", "//web", "/-x"} {
		if _, err := s.Create(Config{Name: bad}); err == nil {
			t.Errorf("Create with --name %q succeeded", bad)
		}
	}
}
