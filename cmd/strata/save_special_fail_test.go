package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteSpecialFailLeavesNoHalfArchive: a save that writes a regular file in place (its
// directory takes no temp file) and fails leaves the file empty, not half an archive.
func TestWriteSpecialFailLeavesNoHalfArchive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.tar")
	if err := os.WriteFile(path, []byte("old content"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	err = writeSpecial(path, fi, func(w io.Writer) error {
		_, _ = w.Write([]byte("half an archive"))
		return errors.New("a damaged blob")
	})
	if err == nil {
		t.Fatal("writeSpecial with a failing save succeeded")
	}
	if got, err := os.ReadFile(path); err != nil || len(got) != 0 {
		t.Errorf("after the failed save the file holds %q (%v), want it empty", got, err)
	}
}
