package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// removeKilledEnv makes the test binary the strata whose rm is killed: it removes the container
// named by $removeKilledEnv ("storedir:id") and exits.
const removeKilledEnv = "STRATA_TEST_REMOVE_KILLED"

func init() {
	arg := os.Getenv(removeKilledEnv)
	if arg == "" {
		return
	}
	dir, id, _ := strings.Cut(arg, ":")
	s, err := OpenStore(dir)
	if err == nil {
		var c *Container
		if c, err = s.Get(id); err == nil {
			err = s.Remove(context.Background(), c, true)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestRemoveKilledHalfway SIGKILLs an rm while it deletes a container's files (many, so that
// the kill lands in the middle): the container must be gone all the same, its name free, and
// what is left of its files removed by the next sweep. removeDir emptied the dir in place,
// config.json first: a kill there left a container listed as Dead that held its name, and a
// --rm one stayed for ever (no sweep removes a container it cannot read), so a run --rm
// --name killed while its container was being removed could not be run again.
func TestRemoveKilledHalfway(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "kk", Image: "alpine", AutoRemove: true})
	if err != nil {
		t.Fatal(err)
	}
	c.State = State{Status: StatusExited}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	upper := filepath.Join(c.Dir, "upper")
	if err := os.Mkdir(upper, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 20000 {
		f, err := os.Create(filepath.Join(upper, fmt.Sprintf("f%05d", i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), removeKilledEnv+"="+s.Dir()+":"+c.ID)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Killed as soon as the removal shows: config.json gone, or the dir.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Lstat(filepath.Join(c.Dir, configFile)); err != nil {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Skipf("the rm ended before the kill (%v: %s): nothing to check", err, stderr.String())
	}

	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		t.Errorf("after the rm killed half-way, List() has container %s %q (broken: %v)", shortID(l.ID), l.Config.Name, l.Broken)
	}
	if _, err := s.Get("kk"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(k) after the rm killed half-way = %v, want ErrNotFound", err)
	}
	again, err := s.Create(Config{Name: "kk", Image: "alpine"})
	if err != nil {
		t.Fatalf("creating a container named k again: %v", err)
	}
	// What is left of the removed files goes with the next sweep once past the grace a
	// removal at work gets (aged here), not before.
	leftovers := func() []string {
		ents, err := os.ReadDir(s.Dir())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range ents {
			if e.Name() != ".lock" && e.Name() != namesDir && e.Name() != again.ID {
				out = append(out, e.Name())
			}
		}
		return out
	}
	_ = s.SweepLeftovers()
	left := leftovers()
	old := time.Now().Add(-time.Minute)
	for _, name := range left {
		if !strings.HasPrefix(name, removingPrefix) {
			t.Errorf("left in the store after the rm killed half-way: %s", name)
		}
		if err := os.Chtimes(filepath.Join(s.Dir(), name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.SweepLeftovers()
	if left := leftovers(); len(left) != 0 {
		t.Errorf("left in the store after a sweep: %v", left)
	}
	if _, err := s.Get("kk"); err != nil {
		t.Errorf("Get(k) of the new container: %v", err)
	}
}

// TestSweepRemovingAtWork: a sweep leaves the files of a removal at work alone: one whose
// remover holds the container's lock, and one renamed less than the grace ago.
func TestSweepRemovingAtWork(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	mk := func(id string, age time.Time) string {
		dir := filepath.Join(s.Dir(), removingPrefix+id)
		if err := os.MkdirAll(filepath.Join(dir, "upper"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, lockFile), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dir, age, age); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	held := mk(strings.Repeat("a", 64), old)
	c := &Container{ID: strings.Repeat("a", 64), Dir: held}
	unlock, err := c.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	fresh := mk(strings.Repeat("b", 64), time.Now())
	dead := mk(strings.Repeat("c", 64), old)
	_ = s.SweepOrphans()
	for dir, want := range map[string]bool{held: true, fresh: true, dead: false} {
		_, err := os.Lstat(dir)
		if got := err == nil; got != want {
			t.Errorf("%s there after a sweep: %v, want %v", filepath.Base(dir), got, want)
		}
	}
}
