package archive

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
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
