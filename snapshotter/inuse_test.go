package snapshotter

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/lockfile"
)

// TestPruneKeepsPreparedLayers: a layer that a prepared overlay container dir lists as a lower
// survives a Prune whose keep set lacks it. keep is computed by another process from the
// images and the container records, and a `strata run` whose image an rmi just untagged has
// prepared its root before it records the container: Prune then deleted the lowers of a
// container about to start (its mount failed, or a created container was broken for good).
// Once the container dir is gone, the layer goes at the next Prune.
func TestPruneKeepsPreparedLayers(t *testing.T) {
	s, base := newTestSnapshotter(t, drivers[0])
	l := buildLayer(t, file("f", "x"))
	unpack(t, s, l)
	cdir := filepath.Join(base, "containers", "c1")
	if err := os.MkdirAll(filepath.Dir(cdir), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(t.Context(), cdir, []v1.Hash{l.diffID}, false); err != nil {
		t.Fatalf("Prepare = %v", err)
	}
	if _, err := s.Prune(t.Context(), nil, false); err != nil {
		t.Fatalf("Prune = %v", err)
	}
	if !s.Has(l.diffID) {
		t.Fatalf("Prune removed a layer that the prepared container %s uses", cdir)
	}
	if err := os.RemoveAll(cdir); err != nil {
		t.Fatal(err)
	}
	removed, err := s.Prune(t.Context(), nil, false)
	if err != nil {
		t.Fatalf("Prune = %v", err)
	}
	if s.Has(l.diffID) || len(removed) != 1 {
		t.Errorf("Prune after the container dir went = %d removed, layer still there: %v; want it removed", len(removed), s.Has(l.diffID))
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), usersDir)); len(ents) != 0 {
		t.Errorf("%s keeps %d entries after the layer went", usersDir, len(ents))
	}
}

// TestPrepareRacesPrune runs Prepare and Prune (keeping nothing) at once many times: either
// Prepare fails with ErrLayerNotFound (Prune won) or the layer is still there once both are
// done; never a prepared container whose lower is gone.
func TestPrepareRacesPrune(t *testing.T) {
	s, base := newTestSnapshotter(t, drivers[0])
	l := buildLayer(t, file("f", strings.Repeat("x", 4096)))
	prepared, lost := 0, 0
	for i := 0; i < 60; i++ {
		unpack(t, s, l)
		cdir := filepath.Join(base, "c", string(rune('a'+i%26))+strings.Repeat("x", i/26))
		var wg sync.WaitGroup
		var perr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, perr = s.Prepare(context.Background(), cdir, []v1.Hash{l.diffID}, false)
		}()
		go func() {
			defer wg.Done()
			s.Prune(context.Background(), nil, false)
		}()
		wg.Wait()
		if perr == nil {
			prepared++
			if !s.Has(l.diffID) {
				lost++
			}
		}
		if err := os.RemoveAll(cdir); err != nil {
			t.Fatal(err)
		}
		s.Prune(context.Background(), nil, false)
	}
	if lost > 0 {
		t.Errorf("%d of %d prepared containers lost their lower to a concurrent Prune", lost, prepared)
	}
}

// TestLayerLockNotAFile: a FIFO at a layer's lock path fails Unpack at once. gofrs/flock
// opened it O_RDONLY, which blocks until a writer opens the FIFO: every pull of the layer hung,
// its context unheard.
func TestLayerLockNotAFile(t *testing.T) {
	s := newPlain(t)
	l := buildLayer(t, file("f", "x"))
	if err := unix.Mkfifo(s.lockPath(l.diffID.Hex), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.Unpack(context.Background(), l.diffID, types.DockerLayer, bytes.NewReader(l.gz))
	}()
	select {
	case err := <-done:
		if !errors.Is(err, lockfile.ErrNotLockFile) {
			t.Errorf("Unpack with a FIFO lock = %v, want ErrNotLockFile", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Unpack with a FIFO lock still blocked after 3s")
	}
}
