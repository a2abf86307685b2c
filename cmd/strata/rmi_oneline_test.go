package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRmiFailedUntagOneLine: an rmi whose untag fails (index.json.lock replaced by a FIFO)
// says so in one line, not once more for the collection that follows and fails on the same
// lock ("pruning: locking …"); the image is kept.
func TestRmiFailedUntagOneLine(t *testing.T) {
	root := loadedTestImages(t)
	lock := filepath.Join(root, "oci", "index.json.lock")
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(lock, 0o644); err != nil {
		t.Fatal(err)
	}
	g := &globals{}
	cmd := newRootCmd(g)
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"--root", root, "rmi", "busybox:1.38.0-musl"})
	err := cmd.ExecuteContext(context.Background())
	if err == nil {
		t.Fatal("rmi with index.json.lock a FIFO succeeded")
	}
	if errOut.Len() != 0 || out.Len() != 0 || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("rmi = %v, stderr %q, stdout %q; want only the untag's error", err, errOut.String(), out.String())
	}
}
