package layers

import (
	"io/fs"
	"testing"

	"golang.org/x/sys/unix"
)

// TestApplyParentsIgnoreUmask: the parents Apply makes for entries whose tar lists no
// directory entry for them are 0755 whatever the umask of the process applying the layer, as
// docker makes them: strata runs with the user's umask, and under 077 every container of the
// image found them 0700, closed to its non-root users. Directories over a whiteout of the
// same layer too. Entries' own modes were never cut: they are set with chmod.
func TestApplyParentsIgnoreUmask(t *testing.T) {
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	runApplyCases(t, []applyCase{
		{
			name:    "parents of a file",
			entries: []ent{file("a/b/c", "x", 0o644), dir("d/", 0o711), file("d/e/f", "y", 0o644)},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "a", fs.ModeDir|0o755)
				wantMode(t, root, "a/b", fs.ModeDir|0o755)
				wantMode(t, root, "d", fs.ModeDir|0o711)
				wantMode(t, root, "d/e", fs.ModeDir|0o755)
				wantFile(t, root, "a/b/c", "x", 0o644)
			},
		},
		{
			name:    "a parent over a whiteout",
			entries: []ent{file(".wh.w", "", 0o644), file("w/x", "x", 0o644)},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "w", fs.ModeDir|0o755)
			},
		},
	})
}
