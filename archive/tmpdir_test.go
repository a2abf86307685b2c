package archive

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/gofrs/flock"
)

// TestStagingLeftovers: a staging dir left by a killed load is removed by the next load; one
// a running load holds is not.
func TestStagingLeftovers(t *testing.T) {
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	archive := save(t, src, OCIArchive, ref)

	s := newStore(t)
	root := filepath.Dir(s.Dir())
	dead := filepath.Join(root, stagingPrefix+"dead")
	live := filepath.Join(root, stagingPrefix+"live")
	for _, d := range []string{dead, live} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "0"), []byte("staged"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := flock.New(filepath.Join(live, ".lock"))
	if err := l.Lock(); err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()

	if _, err := Load(context.Background(), s, bytes.NewReader(archive), LoadOptions{}); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if _, err := os.Stat(dead); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("abandoned %s still there (%v)", dead, err)
	}
	if _, err := os.Stat(filepath.Join(live, "0")); err != nil {
		t.Errorf("a running load's staging dir was touched: %v", err)
	}
}
