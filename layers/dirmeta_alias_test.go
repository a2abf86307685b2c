package layers

import (
	"io/fs"
	"testing"
	"time"

	"archive/tar"
)

// TestApplyDirMetaFollowsTheDirectory: a directory's deferred mode and times go to that
// directory, whatever names lead to it when the layer ends. A later entry may replace a
// directory on the way to one with a symlink to another directory, which the tar gives a
// mode of its own (it got the first one's: 0777 for a directory the tar says is 0700), or
// make a directory reachable by a second name, whose entry then comes last and wins, as
// docker applies each entry's mode as it comes.
func TestApplyDirMetaFollowsTheDirectory(t *testing.T) {
	other := time.Date(2011, 2, 3, 4, 5, 6, 0, time.UTC)
	at := func(e ent, mt time.Time) ent { return e.with(func(h *tar.Header) { h.ModTime = mt }) }
	runApplyCases(t, []applyCase{
		{
			name: "a name that a later symlink leads to another directory",
			entries: []ent{
				dir("p/", 0o755), at(dir("p/q/", 0o777), other),
				symlink("p", "r"),
				dir("r/", 0o755), dir("r/q/", 0o700),
			},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "r/q", fs.ModeDir|0o700)
				wantMtime(t, root, "r/q", testTime)
			},
		},
		{
			name: "a name that a later symlink leads to a parent the layer made",
			entries: []ent{
				dir("p/", 0o755), at(dir("p/q/", 0o777), other),
				symlink("p", "r"),
				file("r/q/x", "x", 0o644),
			},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "r/q", fs.ModeDir|0o755)
				wantFile(t, root, "r/q/x", "x", 0o644)
			},
		},
		{
			name: "one directory under two names, the symlinked one last",
			entries: []ent{
				dir("a/", 0o755), dir("a/c/", 0o700),
				symlink("b", "a"),
				at(dir("b/c/", 0o777), other),
			},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "a/c", fs.ModeDir|0o777)
				wantMtime(t, root, "a/c", other)
			},
		},
		{
			name: "one directory under two names, the real one last",
			entries: []ent{
				dir("a/", 0o755),
				symlink("b", "a"),
				at(dir("b/c/", 0o777), other),
				dir("a/c/", 0o700),
			},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "a/c", fs.ModeDir|0o700)
				wantMtime(t, root, "a/c", testTime)
			},
		},
		{
			name: "the second name broken by a later entry",
			entries: []ent{
				dir("a/", 0o755),
				symlink("b", "a"),
				dir("b/c/", 0o750),
				dir("b/", 0o755),
			},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "a/c", fs.ModeDir|0o750)
				wantMode(t, root, "b", fs.ModeDir|0o755)
			},
		},
		{
			name: "a repeated entry of a directory keeps its place, before its children's",
			entries: []ent{
				dir("d/", 0o755), dir("d/e/", 0o700), file("d/e/f", "f", 0o644), dir("d/", 0o500),
			},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "d", fs.ModeDir|0o500)
				wantMode(t, root, "d/e", fs.ModeDir|0o700)
			},
		},
		{
			name: "a directory replaced and made again under its name",
			entries: []ent{
				dir("d/", 0o700), file("d", "x", 0o644), dir("d/", 0o751),
			},
			check: func(t *testing.T, root string) { wantMode(t, root, "d", fs.ModeDir|0o751) },
		},
	})
}
