package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOwnDirs(t *testing.T) {
	dir := t.TempDir()
	real, link, file := filepath.Join(dir, "real"), filepath.Join(dir, "link"), filepath.Join(dir, "file")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := OwnDirs("the store", real, filepath.Join(dir, "missing")); err != nil {
		t.Errorf("OwnDirs of a directory and a missing one = %v, want nil", err)
	}
	var notOwn *NotOwnDirError
	if err := OwnDirs("the store", real, link); !errors.As(err, &notOwn) || !notOwn.Symlink || notOwn.Path != link ||
		!strings.Contains(err.Error(), "the store's directories must be its own") {
		t.Errorf("OwnDirs with a symlink = %v, want a NotOwnDirError naming it", err)
	}
	if err := OwnDirs("the store", file); !errors.As(err, &notOwn) || notOwn.Symlink || err.Error() != file+" is not a directory" {
		t.Errorf("OwnDirs with a file = %v, want %s is not a directory", err, file)
	}
}
