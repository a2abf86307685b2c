package cache

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLayerTempHeldKept: a layer temp file its writer holds stays through another writer's
// sweep and a prune, however old; one no process holds (a killed writer's) goes at the sweep.
func TestLayerTempHeldKept(t *testing.T) {
	s := openStore(t, t.TempDir())
	live, err := s.CreateLayerTemp()
	if err != nil {
		t.Fatal(err)
	}
	defer live.Remove()
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(live.Path, old, old); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(s.Dir(), layerTempPrefix+"123")
	if err := os.WriteFile(dead, []byte("half a layer"), 0o600); err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateLayerTemp()
	if err != nil {
		t.Fatal(err)
	}
	other.Remove()
	if _, err := os.Stat(dead); err == nil {
		t.Errorf("the next writer left %s, which no process holds", filepath.Base(dead))
	}
	if _, _, err := s.Prune(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(live.Path); err != nil {
		t.Errorf("a held layer temp file, an hour old, went through a sweep and a prune: %v", err)
	}
	live.Remove()
	if _, err := os.Stat(live.Path); err == nil {
		t.Errorf("Remove left %s", live.Path)
	}
}
