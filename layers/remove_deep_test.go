package layers

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// TestApplyReplacesDeepTree: an entry replaces a directory the layer nested 1,000 levels deep
// (and 2,000 wide at one level), under a limit of 128 open files. The removal held a handle per
// level and refused trees deeper than 256 ("directory nesting deeper than 256"), where docker
// removes them.
func TestApplyReplacesDeepTree(t *testing.T) {
	deep := "a/" + strings.Repeat("d/", 1000)
	entries := []ent{file(deep+"f", "bottom", 0o644), symlink("a/d/d/out", "../../../../.."), file("a/d/x", "x", 0o644)}
	for i := range 2000 {
		entries = append(entries, dir(fmt.Sprintf("a/d/d/d/w%d/", i), 0o755), file(fmt.Sprintf("a/d/d/d/w%d/f", i), "", 0o644))
	}
	// "a" replaced by a file; then "b" as deep, replaced by a symlink.
	entries = append(entries, file("a", "now a file", 0o600),
		file("b/"+strings.Repeat("d/", 1000)+"g", "again", 0o644), symlink("b", "a"), file("a2", "", 0o644))
	layer := tarOf(t, entries...)

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = 128
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	j := newJail(t)
	_, err := Apply(context.Background(), j.root, bytes.NewReader(layer), Options{IgnoreOwners: true})
	if rerr := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); rerr != nil {
		t.Fatal(rerr)
	}
	j.check(t)
	if err != nil {
		t.Fatalf("Apply(a 1,000-level tree replaced, 128 files open at most) = %v", err)
	}
	wantFile(t, j.root, "a", "now a file", 0o600)
	wantSymlink(t, j.root, "b", "a")
	wantFile(t, j.root, "a2", "", 0o644)
}
