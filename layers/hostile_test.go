package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// endlessReader yields block forever: a stream whose producer (a compression bomb, a stuck
// registry) never ends on its own.
type endlessReader struct {
	block []byte
	off   int
}

func (e *endlessReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], e.block[e.off:])
		n += c
		e.off = (e.off + c) % len(e.block)
	}
	return n, nil
}

// TestApplyCancelOutsideEntries: canceling ctx stops Apply even where no entry comes: in
// the bytes after the tar's end, which Apply reads for the DiffID, and in a run of extended
// headers, which the tar reader consumes without returning an entry.
func TestApplyCancelOutsideEntries(t *testing.T) {
	var pax bytes.Buffer
	rec := paxRecord("comment", strings.Repeat("x", 4000))
	writeBlocks(&pax, rawHeader("PaxHeaders/x", tar.TypeXHeader, len(rec)), rec)
	var long bytes.Buffer
	writeBlocks(&long, rawHeader("././@LongLink", tar.TypeGNULongName, 4000), strings.Repeat("n", 4000))
	tests := []struct {
		name   string
		stream io.Reader
	}{
		{"after the end of the tar", io.MultiReader(bytes.NewReader(sampleTar(t)), &endlessReader{block: make([]byte, 512)})},
		{"endless PAX headers", &endlessReader{block: pax.Bytes()}},
		{"endless GNU long names", &endlessReader{block: long.Bytes()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newJail(t)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := Apply(ctx, j.root, tc.stream, Options{IgnoreOwners: true, MaxSize: 16 << 30})
			j.check(t)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Apply(%s) = %v, want %v", tc.name, err, context.DeadlineExceeded)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Apply(%s) returned %v after ctx expired, want at once", tc.name, d)
			}
		})
	}
}

// TestApplyHostile runs hostileCases, the layers no honest writer makes, through the same
// checks as TestApply: nothing changes outside the layer dir, and each row's own check.
func TestApplyHostile(t *testing.T) {
	runApplyCases(t, hostileCases())
}

func hostileCases() []applyCase {
	farFuture := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	farPast := time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)
	return []applyCase{
		{
			name:    "a whiteout name is not a parent",
			entries: []ent{file("a/.wh.b/c", "x", 0o644)},
			wantErr: ErrUnsupportedEntry,
		},
		{
			name:    "the opaque marker is not a parent",
			entries: []ent{file(".wh..wh..opq/x", "x", 0o644)},
			wantErr: ErrUnsupportedEntry,
		},
		{
			name:    "a whiteout name is not a parent, whiteouts kept",
			entries: []ent{dir("a/.wh.b/", 0o755)},
			opts:    Options{Whiteouts: WhiteoutKeep},
			check:   func(t *testing.T, root string) { wantMode(t, root, "a/.wh.b", fs.ModeDir|0o755) },
		},
		{
			name:    "a whiteout name is not a parent of a kept whiteout",
			entries: []ent{file("a/.wh.b/.wh.c", "", 0o644)},
			opts:    Options{Whiteouts: WhiteoutKeep},
			wantErr: ErrUnsupportedEntry,
		},
		{
			name:    "hard link to a whiteout is refused",
			entries: []ent{file(".wh.x", "", 0o644), hardlink("y", "x")},
			wantErr: ErrUnsupportedEntry,
		},
		{
			name:    "whiteout then the same name again: the entry wins",
			entries: []ent{file(".wh.a", "", 0o644), file("a", "back", 0o644)},
			check:   func(t *testing.T, root string) { wantFile(t, root, "a", "back", 0o644) },
		},
		{
			name:     "whiteout then a directory of the same name: an opaque directory",
			requires: []testutil.Requirement{testutil.Root},
			entries:  []ent{file(".wh.d", "", 0o644), dir("d/", 0o755), file("d/new", "n", 0o644)},
			check: func(t *testing.T, root string) {
				wantXattr(t, root, "d", overlayOpaqueTrusted, "y")
				wantFile(t, root, "d/new", "n", 0o644)
			},
		},
		{
			name:    "whiteout then a directory of the same name, user xattr",
			entries: []ent{dir("d/", 0o755), file(".wh.d", "", 0o644), dir("d/", 0o755)},
			opts:    Options{Whiteouts: WhiteoutUserXattr},
			check:   func(t *testing.T, root string) { wantXattr(t, root, "d", overlayOpaqueUser, "y") },
		},
		{
			name:    "whiteout then entries below the name: an opaque parent",
			entries: []ent{file(".wh.d", "", 0o644), file("d/e/new", "n", 0o644)},
			opts:    Options{Whiteouts: WhiteoutUserXattr},
			check: func(t *testing.T, root string) {
				wantXattr(t, root, "d", overlayOpaqueUser, "y")
				wantNoXattr(t, root, "d/e", overlayOpaqueUser)
				wantFile(t, root, "d/e/new", "n", 0o644)
			},
		},
		{
			name:    "whiteout then entries below the name, whiteouts kept: a plain parent",
			entries: []ent{file(".wh.d", "", 0o644), file("d/new", "n", 0o644)},
			opts:    Options{Whiteouts: WhiteoutKeep},
			check: func(t *testing.T, root string) {
				wantNoXattr(t, root, "d", overlayOpaqueUser)
				wantFile(t, root, "d/new", "n", 0o644)
			},
		},
		{
			name:    "a file on the way is still not a parent",
			entries: []ent{file("a/f", "x", 0o644), file("a/f/g/h", "x", 0o644)},
			wantErr: unix.ENOTDIR,
		},
		{
			// The file deleted the layers' d below, as the whiteout does: a lower d/x must
			// not show through the new directory (umoci and containerd hide it too).
			name:    "a directory over a file or symlink of the same layer is opaque",
			entries: []ent{file("d", "", 0o644), dir("d/", 0o755), symlink("e", "d"), dir("e/", 0o755)},
			opts:    Options{Whiteouts: WhiteoutUserXattr},
			check: func(t *testing.T, root string) {
				wantXattr(t, root, "d", overlayOpaqueUser, "y")
				wantXattr(t, root, "e", overlayOpaqueUser, "y")
			},
		},
		{
			name:    "a directory over a file, whiteouts kept: an opaque marker in it",
			entries: []ent{file("d", "", 0o644), dir("d/", 0o755), file("d/new", "n", 0o644)},
			opts:    Options{Whiteouts: WhiteoutKeep},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "d/"+whiteoutOpaque, "", 0o600)
				wantNoXattr(t, root, "d", overlayOpaqueUser)
				wantFile(t, root, "d/new", "n", 0o644)
			},
		},
		{
			// The vfs copy takes a kept ".wh." directory for a whiteout and reads nothing in
			// it: no marker goes there, where no tar entry may go either.
			name: "a kept whiteout directory over a file gets no marker",
			entries: []ent{file("d", "", 0o644), dir("d/", 0o755), dir("d/"+whiteoutOpaque+"/", 0o755),
				file("e/.wh.x", "", 0o644), dir("e/.wh.x/", 0o755)},
			opts: Options{Whiteouts: WhiteoutKeep},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "d/"+whiteoutOpaque, fs.ModeDir|0o755)
				wantNotExist(t, root, "d/"+whiteoutOpaque+"/"+whiteoutOpaque)
				wantNotExist(t, root, "e/.wh.x/"+whiteoutOpaque)
			},
		},
		{
			// Overlayfs lists a whiteout in a directory that merges with nothing below as a
			// name that cannot be looked up: none stays below an opaque directory, where it
			// hides nothing more. Elsewhere they stay.
			name:     "no whiteout stays below an opaque directory",
			requires: []testutil.Requirement{testutil.Root},
			entries: []ent{
				dir("d/", 0o755), file("d/.wh.y", "", 0o644), file(".wh.d", "", 0o644),
				file(".wh.h", "", 0o644), file("h/i/.wh.j", "", 0o644),
				file("f/.wh.z", "", 0o644), node("f/k", tar.TypeChar, 0, 0), file("f/.wh..wh..opq", "", 0o644),
				file("top/.wh..wh..opq", "", 0o644), file("top/.wh.late", "", 0o644),
				file(".wh.gone", "", 0o644), file("n/.wh.m", "", 0o644),
			},
			check: func(t *testing.T, root string) {
				wantXattr(t, root, "d", overlayOpaqueTrusted, "y")
				wantXattr(t, root, "h", overlayOpaqueTrusted, "y")
				wantXattr(t, root, "f", overlayOpaqueTrusted, "y")
				for _, p := range []string{"d/y", "h/i/j", "f/z", "f/k", "top/late"} {
					wantNotExist(t, root, p)
				}
				wantWhiteout(t, root, "gone")
				wantWhiteout(t, root, "n/m")
			},
		},
		{
			name:    "a directory over a directory is not opaque",
			entries: []ent{dir("d/", 0o755), file("d/x", "x", 0o644), dir("d/", 0o700)},
			opts:    Options{Whiteouts: WhiteoutUserXattr},
			check: func(t *testing.T, root string) {
				wantNoXattr(t, root, "d", overlayOpaqueUser)
				wantFile(t, root, "d/x", "x", 0o644)
			},
		},
		{
			name:    "whiteout then a directory, whiteouts kept: both as they are",
			entries: []ent{file(".wh.d", "", 0o644), dir("d/", 0o755)},
			opts:    Options{Whiteouts: WhiteoutKeep},
			check: func(t *testing.T, root string) {
				wantFile(t, root, ".wh.d", "", 0o644)
				wantNoXattr(t, root, "d", overlayOpaqueUser)
			},
		},
		{
			name:     "opaque marker at the root marks the layer dir",
			requires: []testutil.Requirement{testutil.Root},
			entries:  []ent{file(".wh..wh..opq", "", 0o644), file("new", "n", 0o644)},
			check: func(t *testing.T, root string) {
				wantXattr(t, root, ".", overlayOpaqueTrusted, "y")
				wantFile(t, root, "new", "n", 0o644)
			},
		},
		{
			name:    "a 0/0 character device in the tar is made as it is",
			entries: []ent{node("gone", tar.TypeChar, 0, 0)},
			check:   func(t *testing.T, root string) { wantWhiteout(t, root, "gone") },
		},
		{
			name: "one name changes type: file, directory, symlink, hard link, fifo",
			entries: []ent{
				file("other", "o", 0o644),
				file("p", "f", 0o644), dir("p/", 0o755), file("p/child", "c", 0o644),
				symlink("p", "other"), hardlink("p", "other"), node("p", tar.TypeFifo, 0, 0),
			},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "p", fs.ModeNamedPipe|0o644)
				wantFile(t, root, "other", "o", 0o644)
			},
		},
		{
			name: "hard links keep the content an entry later replaces",
			entries: []ent{
				file("a", "first", 0o644), hardlink("b", "a"), hardlink("c", "b"),
				file("a", "second", 0o644),
			},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "a", "second", 0o644)
				wantFile(t, root, "c", "first", 0o644)
				wantSameInode(t, root, "b", "c")
			},
		},
		{
			name:    "hard link through a symlinked parent to the host is the layer's",
			entries: []ent{symlink("up", "../../.."), file("sentinel", "mine", 0o644), hardlink("x", "up/sentinel")},
			check:   func(t *testing.T, root string) { wantSameInode(t, root, "x", "sentinel") },
		},
		{
			name:    "hard link to a missing target fails",
			entries: []ent{hardlink("x", "missing")},
			wantErr: unix.ENOENT,
		},
		{
			name: "names with a newline, bytes that are not UTF-8, 255-byte components",
			entries: []ent{
				file("new\nline", "n", 0o644), file("bad\xff\xfe", "b", 0o644),
				file(strings.Repeat("x", 255), "l", 0o644),
			},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "new\nline", "n", 0o644)
				wantFile(t, root, "bad\xff\xfe", "b", 0o644)
				wantFile(t, root, strings.Repeat("x", 255), "l", 0o644)
			},
		},
		{
			name:    "a 256-byte component fails",
			entries: []ent{file(strings.Repeat("x", 256), "l", 0o644)},
			wantErr: unix.ENAMETOOLONG,
		},
		{
			name: "mtimes far in the future and the past",
			entries: []ent{
				file("future", "", 0o644).with(func(h *tar.Header) { h.ModTime, h.Format = farFuture, tar.FormatPAX }),
				file("past", "", 0o644).with(func(h *tar.Header) { h.ModTime, h.Format = farPast, tar.FormatPAX }),
			},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "future", 0o644)
				wantMode(t, root, "past", 0o644)
			},
		},
		{
			name: "every mode bit, and none",
			entries: []ent{
				file("all", "a", 0o7777), dir("none/", 0), file("none/child", "c", 0),
			},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "all", fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky|0o777)
				wantMode(t, root, "none", fs.ModeDir)
				wantMode(t, root, "none/child", 0)
			},
		},
		{
			name:     "owner 2^32-1 is refused",
			requires: []testutil.Requirement{testutil.Root},
			entries:  []ent{file("f", "", 0o644).with(func(h *tar.Header) { h.Uid = 1<<32 - 1 })},
			wantErr:  ErrUnsupportedEntry,
		},
		{
			name:     "a negative owner is refused",
			requires: []testutil.Requirement{testutil.Root},
			entries:  []ent{file("f", "", 0o644).with(func(h *tar.Header) { h.Gid = -2; h.Format = tar.FormatGNU })},
			wantErr:  ErrUnsupportedEntry,
		},
	}
}
