package archive

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/strata-run/strata/internal/lockfile"
)

// TestStagingDirsRace makes staging dirs from many goroutines at once, as concurrent `strata
// load`s do: none may lose its dir to another's removeAbandoned. The dir used to exist
// unlocked between its mkdir and its lock, and a load starting then removed it as abandoned:
// the first load failed with "no such file or directory".
func TestStagingDirsRace(t *testing.T) {
	parent := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				dir, done, err := stagingDir(parent)
				if err != nil {
					errs <- err
					return
				}
				werr := os.WriteFile(filepath.Join(dir, "0"), []byte("staged"), 0o644)
				if werr != nil {
					errs <- werr
				}
				if err := done(); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 3 {
			t.Errorf("staging while others stage: %v", err)
		}
	}
	if n > 3 {
		t.Errorf("... %d failures in all", n)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("%d entries left in %s, want none", len(ents), parent)
	}
}

// TestPruneStagingKilled: what a load killed at any step leaves goes with the next
// PruneStaging: a dir it had locked but not yet renamed, one it was removing, one it held
// under its final name. A dir another process holds stays.
func TestPruneStagingKilled(t *testing.T) {
	parent := t.TempDir()
	mk := func(name string, lock bool) string {
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "0"), []byte("staged"), 0o600); err != nil {
			t.Fatal(err)
		}
		if lock {
			if err := os.WriteFile(filepath.Join(dir, ".lock"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	gone := []string{mk(newStagingPrefix+"1", true), mk(doneStagingPrefix+"2", false), mk(stagingPrefix+"3", true)}
	held := mk(stagingPrefix+"4", true)
	l, ok, err := lockfile.TryLock(filepath.Join(held, ".lock"), 0o600, true)
	if err != nil || !ok {
		t.Fatalf("locking %s: %v %v", held, ok, err)
	}
	defer l.Unlock()
	if freed := PruneStaging(parent); freed != 3*int64(len("staged")) {
		t.Errorf("PruneStaging freed %d bytes, want %d", freed, 3*len("staged"))
	}
	for _, d := range gone {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("PruneStaging left %s", d)
		}
	}
	if _, err := os.Stat(filepath.Join(held, "0")); err != nil {
		t.Errorf("PruneStaging touched a held dir: %v", err)
	}
}
