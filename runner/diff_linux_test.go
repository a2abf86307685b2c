package runner

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLayerLookup: a path is in a layer only through real directories there: a layer whose
// /etc is a symlink to the host's /etc does not make /etc/passwd the image's, and the top
// layer that has a path answers for it.
func TestLayerLookup(t *testing.T) {
	top, bottom := t.TempDir(), t.TempDir()
	for _, d := range []string{filepath.Join(bottom, "usr/lib"), filepath.Join(top, "usr")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bottom, "usr/lib/x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(top, "etc")); err != nil {
		t.Fatal(err)
	}
	l := &layerLookup{layers: []string{top, bottom}, realDir: map[string]bool{}}
	for _, tt := range []struct {
		rel  string
		want bool
	}{
		{"usr/lib/x", true},
		{"usr", true},
		{"etc", true},         // the symlink itself is the image's
		{"etc/passwd", false}, // but nothing through it
		{"usr/lib/y", false},
	} {
		if _, ok := l.stat(tt.rel); ok != tt.want {
			t.Errorf("stat(%s) = %v, want %v", tt.rel, ok, tt.want)
		}
	}
}
