package snapshotter

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/lockfile"
)

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
	case <-time.After(30 * time.Second):
		t.Fatal("Unpack with a FIFO lock still blocked after 30s")
	}
}
