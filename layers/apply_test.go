package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// applyCase is one layer applied into a fresh jail, then checked.
type applyCase struct {
	name     string
	entries  []ent
	opts     Options
	requires []testutil.Requirement
	// wantErr is matched with errors.Is; errAny accepts any error (the check says which).
	wantErr error
	errAny  bool
	check   func(t *testing.T, root string)
}

func applyCases() []applyCase {
	long := strings.Repeat("d", 120) + "/" + strings.Repeat("f", 150)
	return []applyCase{
		{
			name:    "regular file with mode and mtime",
			entries: []ent{file("hello.txt", "hello, world\n", 0o640)},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "hello.txt", "hello, world\n", 0o640)
				wantMtime(t, root, "hello.txt", testTime)
			},
		},
		{
			name: "PAX keeps sub-second mtimes",
			entries: []ent{file("f", "x", 0o644).with(func(h *tar.Header) {
				h.ModTime = testTime.Add(123456789)
				h.Format = tar.FormatPAX
			})},
			check: func(t *testing.T, root string) { wantMtime(t, root, "f", testTime.Add(123456789)) },
		},
		{
			name:    "empty file",
			entries: []ent{file("empty", "", 0o600)},
			check:   func(t *testing.T, root string) { wantFile(t, root, "empty", "", 0o600) },
		},
		{
			name: "directory times and read-only mode survive their children",
			entries: []ent{
				dir("ro/", 0o555),
				dir("ro/sub/", 0o755),
				file("ro/sub/f", "x", 0o644),
				file("ro/g", "y", 0o644),
			},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "ro", fs.ModeDir|0o555)
				wantMtime(t, root, "ro", testTime)
				wantMtime(t, root, "ro/sub", testTime)
				wantFile(t, root, "ro/sub/f", "x", 0o644)
			},
		},
		{
			name: "directory atime from PAX",
			entries: []ent{dir("d/", 0o755).with(func(h *tar.Header) {
				h.AccessTime = testTime.Add(time.Hour)
				h.Format = tar.FormatPAX
			})},
			check: func(t *testing.T, root string) {
				var st unix.Stat_t
				if err := unix.Lstat(filepath.Join(root, "d"), &st); err != nil {
					t.Fatal(err)
				}
				if got, want := time.Unix(st.Atim.Unix()), testTime.Add(time.Hour); !got.Equal(want) {
					t.Errorf("atime of d = %v, want %v", got, want)
				}
			},
		},
		{
			name:    "symlink stored verbatim, never followed",
			entries: []ent{symlink("etc-passwd", "/etc/passwd"), symlink("rel", "../../x")},
			check: func(t *testing.T, root string) {
				wantSymlink(t, root, "etc-passwd", "/etc/passwd")
				wantSymlink(t, root, "rel", "../../x")
				wantMtime(t, root, "rel", testTime)
			},
		},
		{
			name:    "hard link shares the inode",
			entries: []ent{file("a", "shared", 0o644), hardlink("b", "a"), hardlink("c", "/a")},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "b", "shared", 0o644)
				wantSameInode(t, root, "a", "b")
				wantSameInode(t, root, "a", "c")
			},
		},
		{
			name:    "fifo",
			entries: []ent{node("pipe", tar.TypeFifo, 0, 0)},
			check:   func(t *testing.T, root string) { wantMode(t, root, "pipe", fs.ModeNamedPipe|0o644) },
		},
		{
			name:    "long names, PAX",
			entries: []ent{file(long, "long", 0o644).with(func(h *tar.Header) { h.Format = tar.FormatPAX })},
			check:   func(t *testing.T, root string) { wantFile(t, root, long, "long", 0o644) },
		},
		{
			name:    "long names, GNU",
			entries: []ent{file(long, "gnu", 0o644).with(func(h *tar.Header) { h.Format = tar.FormatGNU })},
			check:   func(t *testing.T, root string) { wantFile(t, root, long, "gnu", 0o644) },
		},
		{
			name: "PAX xattrs on a file and a directory",
			entries: []ent{
				dir("d/", 0o755).with(func(h *tar.Header) {
					h.PAXRecords = map[string]string{"SCHILY.xattr.user.dir": "on dir"}
				}),
				file("d/f", "x", 0o644).with(func(h *tar.Header) {
					h.PAXRecords = map[string]string{"SCHILY.xattr.user.strata": "v\x00binary"}
				}),
			},
			check: func(t *testing.T, root string) {
				wantXattr(t, root, "d", "user.dir", "on dir")
				wantXattr(t, root, "d/f", "user.strata", "v\x00binary")
			},
		},
		{
			name: "libarchive xattrs",
			entries: []ent{file("f", "x", 0o644).with(func(h *tar.Header) {
				h.PAXRecords = map[string]string{"LIBARCHIVE.xattr.user.with%20space": "dmFsdWU"}
			})},
			check: func(t *testing.T, root string) { wantXattr(t, root, "f", "user.with space", "value") },
		},
		{
			name: "undecodable libarchive xattr",
			entries: []ent{file("f", "x", 0o644).with(func(h *tar.Header) {
				h.PAXRecords = map[string]string{"LIBARCHIVE.xattr.user.x": "!!not base64"}
			})},
			errAny: true,
		},
		{
			name:    "device number out of range",
			entries: []ent{node("dev/huge", tar.TypeChar, 1<<20, 0)},
			wantErr: ErrUnsupportedEntry,
		},
		{
			name: "overlay xattrs in the tar are dropped",
			entries: []ent{dir("d/", 0o755).with(func(h *tar.Header) {
				h.PAXRecords = map[string]string{"SCHILY.xattr.user.overlay.opaque": "y"}
			})},
			check: func(t *testing.T, root string) { wantNoXattr(t, root, "d", "user.overlay.opaque") },
		},
		{
			name: "setuid, setgid and sticky bits",
			entries: []ent{
				file("suid", "x", 0o4755),
				dir("tmp/", 0o1777),
				dir("sgid/", 0o2775),
			},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "suid", fs.ModeSetuid|0o755)
				wantMode(t, root, "tmp", fs.ModeDir|fs.ModeSticky|0o777)
				wantMode(t, root, "sgid", fs.ModeDir|fs.ModeSetgid|0o775)
			},
		},
		{
			name:    "missing parents are created 0755",
			entries: []ent{file("a/b/c/f", "deep", 0o644)},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "a/b/c/f", "deep", 0o644)
				wantMode(t, root, "a/b", fs.ModeDir|0o755)
			},
		},
		{
			name:    "missing parents under an existing deep directory",
			entries: []ent{dir("a/", 0o755), dir("a/b/", 0o755), file("a/b/c/d/e/f", "deep", 0o644), file("a/b/c/g", "g", 0o644)},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "a/b/c/d/e/f", "deep", 0o644)
				wantFile(t, root, "a/b/c/g", "g", 0o644)
			},
		},
		{
			name:    "missing parents through a symlink are created inside",
			entries: []ent{symlink("l", "/real"), dir("real/", 0o755), file("l/x/y", "via link", 0o644)},
			check:   func(t *testing.T, root string) { wantFile(t, root, "real/x/y", "via link", 0o644) },
		},
		{
			name:    "a dangling symlink is not a parent",
			entries: []ent{symlink("l", "../outside/nothing"), file("l/x", "x", 0o644)},
			wantErr: unix.ENOENT,
		},
		{
			name:    "a file is not a parent",
			entries: []ent{file("f", "x", 0o644), file("f/x", "x", 0o644)},
			wantErr: unix.ENOTDIR,
		},
		{
			// Docker's path-based extraction fails on these with ENAMETOOLONG too.
			name:    "a name longer than a path can hold is refused",
			entries: []ent{file(strings.Repeat("d/", 2020)+"f", "x", 0o644)},
			wantErr: unix.ENAMETOOLONG,
		},
		{
			// Each symlink hop adds a whole path's worth of depth: without a bound, a few
			// entries make a tree that no path names, which du, rm and prune cannot walk.
			name:    "symlink hops cannot nest directories deeper than a path can name",
			entries: deepChain(3, 600),
			wantErr: unix.ENAMETOOLONG,
		},
		{
			name:    "absolute and dotted names are rooted at the layer dir",
			entries: []ent{file("/abs/f", "abs", 0o644), file("./dot/f", "dot", 0o644), file("x/./../y", "y", 0o644)},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "abs/f", "abs", 0o644)
				wantFile(t, root, "dot/f", "dot", 0o644)
				wantFile(t, root, "y", "y", 0o644)
			},
		},
		{
			name:    "root entry sets the layer dir's mode and time",
			entries: []ent{dir("./", 0o750), file("f", "x", 0o644)},
			check: func(t *testing.T, root string) {
				wantMode(t, root, ".", fs.ModeDir|0o750)
				wantMtime(t, root, ".", testTime)
			},
		},
		{
			name:    "a file may not be the root",
			entries: []ent{file(".", "x", 0o644)},
			wantErr: ErrUnsafePath,
		},
		{
			name:    "dot-dot escape is refused",
			entries: []ent{file("../escaped", "x", 0o644)},
			wantErr: ErrUnsafePath,
		},
		{
			name:    "dot-dot escape in the middle is refused",
			entries: []ent{file("a/../../outside/x", "x", 0o644)},
			wantErr: ErrUnsafePath,
		},
		{
			name:    "absolute dot-dot escape is refused",
			entries: []ent{file("/../outside/x", "x", 0o644)},
			wantErr: ErrUnsafePath,
		},
		{
			name:    "symlink to / then a write through it stays inside",
			entries: []ent{symlink("a", "/"), file("a/etc/x", "inside", 0o644)},
			check: func(t *testing.T, root string) {
				wantSymlink(t, root, "a", "/")
				wantFile(t, root, "etc/x", "inside", 0o644)
			},
		},
		{
			name:    "symlink to ../.. then a write through it stays inside",
			entries: []ent{dir("d/", 0o755), symlink("d/up", "../.."), file("d/up/outside/x", "inside", 0o644)},
			check:   func(t *testing.T, root string) { wantFile(t, root, "outside/x", "inside", 0o644) },
		},
		{
			name:    "symlinked directory chain then a write stays inside",
			entries: []ent{symlink("a", "b/../../.."), dir("b/", 0o755), symlink("b/c", "/../.."), file("a/b/c/outside/y", "in", 0o644)},
			check:   func(t *testing.T, root string) { wantFile(t, root, "outside/y", "in", 0o644) },
		},
		{
			name:    "a file over a symlink replaces the symlink",
			entries: []ent{symlink("l", "../sentinel"), file("l", "new", 0o644)},
			check:   func(t *testing.T, root string) { wantFile(t, root, "l", "new", 0o644) },
		},
		{
			name:    "a directory over a symlink replaces the symlink",
			entries: []ent{symlink("l", "../outside"), dir("l/", 0o700), file("l/f", "in", 0o644)},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "l", fs.ModeDir|0o700)
				wantFile(t, root, "l/f", "in", 0o644)
			},
		},
		{
			name:    "hard link with dot-dot is refused",
			entries: []ent{hardlink("pw", "../sentinel")},
			wantErr: ErrUnsafePath,
		},
		{
			name:    "hard link to an absolute path names the layer, not the host",
			entries: []ent{hardlink("pw", "/etc/passwd")},
			wantErr: unix.ENOENT,
		},
		{
			name:    "hard link through a symlinked directory stays inside",
			entries: []ent{symlink("up", "../"), hardlink("pw", "up/sentinel")},
			wantErr: unix.ENOENT,
		},
		{
			name:    "hard link to a symlink links the symlink",
			entries: []ent{symlink("s", "../sentinel"), hardlink("h", "s")},
			check: func(t *testing.T, root string) {
				wantSymlink(t, root, "h", "../sentinel")
				wantSameInode(t, root, "s", "h")
			},
		},
		{
			name:    "hard link to a directory is refused",
			entries: []ent{dir("d/", 0o755), hardlink("l", "d")},
			wantErr: unix.EPERM,
		},
		{
			name:    "hard link to itself is refused",
			entries: []ent{file("a", "x", 0o644), hardlink("a", "./a")},
			wantErr: ErrUnsupportedEntry,
		},
		{
			name:    "repeated file: the last wins",
			entries: []ent{file("f", "first", 0o600), file("f", "second", 0o644)},
			check:   func(t *testing.T, root string) { wantFile(t, root, "f", "second", 0o644) },
		},
		{
			name: "repeated names in a subdirectory",
			entries: []ent{
				file("d/f", "first", 0o600), file("d/f", "second", 0o644),
				symlink("d/l", "one"), symlink("d/l", "two"),
				dir("d/sub/", 0o755), file("d/sub/x", "x", 0o644), file("d/sub", "now a file", 0o644),
				node("d/p", tar.TypeFifo, 0, 0), node("d/p", tar.TypeFifo, 0, 0),
				file("d/h", "h", 0o644), hardlink("d/h2", "d/h"), hardlink("d/h2", "d/f"),
				file("d/last", "after the replacements", 0o644),
			},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "d/f", "second", 0o644)
				wantSymlink(t, root, "d/l", "two")
				wantFile(t, root, "d/sub", "now a file", 0o644)
				wantSameInode(t, root, "d/h2", "d/f")
				wantFile(t, root, "d/last", "after the replacements", 0o644)
			},
		},
		{
			name:    "rewriting a hard-linked name does not write through the link",
			entries: []ent{file("a", "old", 0o644), hardlink("b", "a"), file("a", "new", 0o644)},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "a", "new", 0o644)
				wantFile(t, root, "b", "old", 0o644)
			},
		},
		{
			name:    "repeated directory keeps its children and takes the new metadata",
			entries: []ent{dir("d/", 0o700), file("d/f", "kept", 0o644), dir("d/", 0o751)},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "d", fs.ModeDir|0o751)
				wantFile(t, root, "d/f", "kept", 0o644)
			},
		},
		{
			name:    "a file replaces a whole directory",
			entries: []ent{dir("d/", 0o755), dir("d/e/", 0o555), file("d/e/f", "gone", 0o444), file("d", "file now", 0o644)},
			check:   func(t *testing.T, root string) { wantFile(t, root, "d", "file now", 0o644) },
		},
		{
			name:    "a directory replaces a file",
			entries: []ent{file("x", "file", 0o644), dir("x/", 0o755), file("x/y", "in dir", 0o644)},
			check:   func(t *testing.T, root string) { wantFile(t, root, "x/y", "in dir", 0o644) },
		},
		{
			name:    "whiteout becomes a 0/0 character device",
			entries: []ent{dir("etc/", 0o755), file("etc/.wh.motd", "", 0o644)},
			check:   func(t *testing.T, root string) { wantWhiteout(t, root, "etc/motd") },
		},
		{
			// image-spec layer.md#whiteouts: "Files that are present in the same layer as a
			// whiteout file can only be hidden by whiteout files in subsequent layers." The
			// layer's own entry stays; its directory turns opaque, hiding the lower one's.
			name: "whiteout after the layer's own entry deletes from the layers below only",
			entries: []ent{file("f", "x", 0o644), file(".wh.f", "", 0o644),
				dir("d/", 0o755), file("d/new", "n", 0o644), file(".wh.d", "", 0o644)},
			opts: Options{Whiteouts: WhiteoutUserXattr},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "f", "x", 0o644)
				wantFile(t, root, "d/new", "n", 0o644)
				wantXattr(t, root, "d", "user.overlay.opaque", "y")
				wantNoXattr(t, root, ".", "user.overlay.opaque")
			},
		},
		{
			name:     "opaque directory, trusted xattr",
			entries:  []ent{dir("d/", 0o755), file("d/.wh..wh..opq", "", 0o644), file("d/new", "n", 0o644)},
			requires: []testutil.Requirement{testutil.Root},
			check: func(t *testing.T, root string) {
				wantXattr(t, root, "d", "trusted.overlay.opaque", "y")
				wantNotExist(t, root, "d/.wh..wh..opq")
			},
		},
		{
			name:    "opaque directory, user xattr",
			entries: []ent{dir("d/", 0o755), file("d/.wh..wh..opq", "", 0o644)},
			opts:    Options{Whiteouts: WhiteoutUserXattr},
			check: func(t *testing.T, root string) {
				wantXattr(t, root, "d", "user.overlay.opaque", "y")
				wantNoXattr(t, root, "d", "trusted.overlay.opaque")
			},
		},
		{
			name:    "whiteouts kept as files",
			entries: []ent{file(".wh.gone", "", 0o644), file("d/.wh..wh..opq", "", 0o644)},
			opts:    Options{Whiteouts: WhiteoutKeep},
			check: func(t *testing.T, root string) {
				wantFile(t, root, ".wh.gone", "", 0o644)
				wantFile(t, root, "d/.wh..wh..opq", "", 0o644)
				wantNotExist(t, root, "gone")
			},
		},
		{
			name:    "whiteout of dot-dot is refused",
			entries: []ent{file("d/.wh...", "", 0o644)},
			wantErr: ErrUnsafePath,
		},
		{
			name:    "whiteout of nothing is refused",
			entries: []ent{file(".wh.", "", 0o644)},
			wantErr: ErrUnsafePath,
		},
		{
			name:    "whiteout outside the layer dir is refused",
			entries: []ent{file("../.wh.sentinel", "", 0o644)},
			wantErr: ErrUnsafePath,
		},
		{
			name:    "whiteout through a symlink stays inside",
			entries: []ent{symlink("up", "../.."), file("up/.wh.sentinel", "", 0o644)},
			check:   func(t *testing.T, root string) { wantWhiteout(t, root, "sentinel") },
		},
		// AUFS's metadata at the root of layers docker made on its aufs driver: docker and
		// containerd 1.x skip it, keeping plnk's regular files for the links to them.
		{
			name: "AUFS metadata at the root is left out",
			entries: []ent{dir("./", 0o755), file(".wh..wh.aufs", "", 0o444), dir(".wh..wh.orph/", 0o700),
				file(".wh..wh.orph/o", "orphan", 0o644), dir(".wh..wh.plnk/", 0o700), file("kept", "k", 0o644)},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "kept", "k", 0o644)
				wantNoWhiteoutMeta(t, root)
				wantMtime(t, root, ".", testTime)
			},
		},
		{
			name: "AUFS metadata at the root is left out, whiteouts kept",
			entries: []ent{file(".wh..wh.aufs", "", 0o444), file(".wh..wh.orph/o", "orphan", 0o644),
				file(".wh..wh..opq", "", 0o644)},
			opts: Options{Whiteouts: WhiteoutKeep},
			check: func(t *testing.T, root string) {
				wantNoWhiteoutMeta(t, root, ".wh..wh..opq")
				wantFile(t, root, ".wh..wh..opq", "", 0o644)
			},
		},
		{
			name: "a hard link to an AUFS pseudo-link is that file",
			entries: []ent{
				dir(".wh..wh.plnk/", 0o700),
				file(".wh..wh.plnk/262.1187", "plnk body", 0o755).with(func(h *tar.Header) { h.ModTime = testTime.Add(time.Hour) }),
				dir("usr/bin/", 0o755),
				hardlink("usr/bin/a", ".wh..wh.plnk/262.1187"),
				hardlink("usr/bin/b", "/.wh..wh.plnk/262.1187"),
				hardlink("c", "./.wh..wh.plnk/262.1187"),
			},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "usr/bin/a", "plnk body", 0o755)
				wantMtime(t, root, "usr/bin/a", testTime.Add(time.Hour))
				wantSameInode(t, root, "usr/bin/a", "usr/bin/b")
				wantSameInode(t, root, "usr/bin/a", "c")
				wantNoWhiteoutMeta(t, root)
				wantMtime(t, root, "usr/bin", testTime)
			},
		},
		{
			name: "a hard link to an AUFS pseudo-link is that file, whiteouts kept",
			entries: []ent{file(".wh..wh.plnk/1.2", "kept", 0o644), hardlink("a", ".wh..wh.plnk/1.2"),
				file(".wh.gone", "", 0o644)},
			opts: Options{Whiteouts: WhiteoutKeep},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "a", "kept", 0o644)
				wantFile(t, root, ".wh.gone", "", 0o644)
				wantNoWhiteoutMeta(t, root)
			},
		},
		{
			name: "a repeated AUFS pseudo-link: the later one is linked",
			entries: []ent{file(".wh..wh.plnk/n", "one", 0o644), file(".wh..wh.plnk/n", "two", 0o600),
				hardlink("a", ".wh..wh.plnk/n")},
			opts:  Options{Whiteouts: WhiteoutUserXattr},
			check: func(t *testing.T, root string) { wantFile(t, root, "a", "two", 0o600) },
		},
		{
			name:    "a hard link before its AUFS pseudo-link is refused",
			entries: []ent{hardlink("a", ".wh..wh.plnk/1.2"), file(".wh..wh.plnk/1.2", "late", 0o644)},
			wantErr: ErrUnsupportedEntry,
		},
		{
			name: "AUFS pseudo-links that are no regular files are left out",
			entries: []ent{symlink(".wh..wh.plnk/s", "/etc/passwd"), node(".wh..wh.plnk/p", tar.TypeFifo, 0, 0),
				dir(".wh..wh.plnk/sub/", 0o755), file(".wh..wh.plnk/sub/f", "nested", 0o644),
				file(".wh..wh.plnk/r", "r", 0o644), hardlink(".wh..wh.plnk/l", ".wh..wh.plnk/r"), file("ok", "", 0o644)},
			check: func(t *testing.T, root string) {
				wantFile(t, root, "ok", "", 0o644)
				wantNoWhiteoutMeta(t, root)
			},
		},
		{
			name:    "a hard link to a symlink among the AUFS pseudo-links is refused",
			entries: []ent{symlink(".wh..wh.plnk/s", "/etc/passwd"), hardlink("a", ".wh..wh.plnk/s")},
			wantErr: ErrUnsupportedEntry,
		},
		{
			name:    "a hard link into a directory among the AUFS pseudo-links is refused",
			entries: []ent{file(".wh..wh.plnk/sub/f", "nested", 0o644), hardlink("a", ".wh..wh.plnk/sub/f")},
			wantErr: ErrUnsupportedEntry,
		},
		{
			name:    "a hard link to other AUFS metadata is refused",
			entries: []ent{file(".wh..wh.aufs", "", 0o644), hardlink("a", ".wh..wh.aufs")},
			wantErr: ErrUnsupportedEntry,
		},
		{
			// Whatever name the place of the pseudo-links has, no link reaches it.
			name:    "a hard link to any AUFS metadata name is refused",
			entries: []ent{file(".wh..wh.plnk/x", "x", 0o644), hardlink("a", ".wh..wh.plnk-strata-0123/x")},
			wantErr: ErrUnsupportedEntry,
		},
		{
			name:    "an AUFS pseudo-link out of the layer dir is refused",
			entries: []ent{file(".wh..wh.plnk/../../sentinel", "escape?", 0o644)},
			wantErr: ErrUnsafePath,
		},
		{
			name:    "a hard link out of the layer dir through AUFS's pseudo-links is refused",
			entries: []ent{file(".wh..wh.plnk/x", "x", 0o644), hardlink("a", ".wh..wh.plnk/../../sentinel")},
			wantErr: ErrUnsafePath,
		},
		{
			name:    "AUFS's pseudo-links are not reached through a symlink",
			entries: []ent{symlink("p", ".wh..wh.plnk"), file(".wh..wh.plnk/f", "x", 0o644), hardlink("a", "p/f")},
			errAny:  true,
		},
		{
			name:    "an AUFS pseudo-link counts against MaxSize",
			entries: []ent{file(".wh..wh.plnk/big", strings.Repeat("x", 64<<10), 0o644)},
			opts:    Options{MaxSize: 32 << 10},
			wantErr: ErrTooLarge,
		},
		{
			name:    "AUFS metadata names below the root are refused",
			entries: []ent{file("d/.wh..wh.aufs", "", 0o644)},
			wantErr: ErrUnsupportedEntry,
		},
		{
			name:    "an AUFS pseudo-link below the root is refused",
			entries: []ent{file("d/.wh..wh.plnk/1.2", "x", 0o644)},
			wantErr: ErrUnsupportedEntry,
		},
		{
			name:    "AUFS metadata is any name where told so",
			entries: []ent{file(".wh..wh.aufs", "a", 0o644)},
			opts:    Options{Whiteouts: WhiteoutKeep, NoAUFSMeta: true},
			check:   func(t *testing.T, root string) { wantFile(t, root, ".wh..wh.aufs", "a", 0o644) },
		},
		{
			name:    "AUFS pseudo-links are refused where told so",
			entries: []ent{file(".wh..wh.plnk/1.2", "x", 0o644)},
			opts:    Options{Whiteouts: WhiteoutKeep, NoAUFSMeta: true},
			wantErr: ErrUnsupportedEntry,
		},
		{
			name:    "unknown entry type is refused",
			entries: []ent{{hdr: tar.Header{Typeflag: 'Q', Name: "q", Mode: 0o644}}},
			wantErr: ErrUnsupportedEntry,
		},
		{
			name:    "too many entries",
			entries: []ent{file("1", "", 0o644), file("2", "", 0o644), file("3", "", 0o644), file("4", "", 0o644)},
			opts:    Options{MaxEntries: 3},
			wantErr: ErrTooManyEntries,
		},
		{
			name:    "content larger than MaxSize",
			entries: []ent{file("big", strings.Repeat("x", 64<<10), 0o644)},
			opts:    Options{MaxSize: 32 << 10},
			wantErr: ErrTooLarge,
		},
		{
			name:    "not enough free space",
			entries: []ent{file("f", "x", 0o644)},
			opts:    Options{MinFreeBytes: 1 << 62},
			wantErr: ErrLowDiskSpace,
		},
	}
}

func TestApply(t *testing.T) {
	runApplyCases(t, applyCases())
}

// TestApplyWithoutOpenat2 runs the same cases through filepath-securejoin, the path taken on
// kernels without openat2.
func TestApplyWithoutOpenat2(t *testing.T) {
	noOpenat2.Store(true)
	t.Cleanup(func() { noOpenat2.Store(false) })
	runApplyCases(t, applyCases())
	runApplyCases(t, hostileCases())
}

func runApplyCases(t *testing.T, cases []applyCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testutil.Requires(t, tc.requires...)
			j := newJail(t)
			opts := tc.opts
			opts.IgnoreOwners = os.Geteuid() != 0
			layer := tarOf(t, tc.entries...)
			got, err := Apply(context.Background(), j.root, bytes.NewReader(layer), opts)
			j.check(t)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Apply(%s) = %v, want %v", tc.name, err, tc.wantErr)
				}
				return
			case tc.errAny:
				if err == nil {
					t.Fatalf("Apply(%s) = nil error, want one", tc.name)
				}
				return
			case err != nil:
				t.Fatalf("Apply(%s) = %v", tc.name, err)
			}
			if want := sha256Hash(layer); got != want {
				t.Errorf("Apply(%s) DiffID = %s, want %s", tc.name, got, want)
			}
			if tc.check != nil {
				tc.check(t, j.root)
			}
		})
	}
}

// deepChain is a directory chain of per levels, then hops symlinks, each to the end of the
// chain before it, with another chain of per levels below each.
func deepChain(hops, per int) []ent {
	chain := strings.TrimSuffix(strings.Repeat("d/", per), "/")
	es := []ent{dir(chain+"/", 0o755)}
	prev := chain
	for i := range hops {
		l := fmt.Sprintf("hop%d", i)
		es = append(es, symlink(l, prev), dir(l+"/"+chain+"/", 0o755))
		prev = l + "/" + chain
	}
	return append(es, file(prev+"/f", "deep", 0o644))
}

// TestApplyAUFSFailureLeavesNoPseudoLinks: when a layer with AUFS pseudo-links fails (a link
// to one it lacks, a tar cut short), the place they were kept in goes too.
func TestApplyAUFSFailureLeavesNoPseudoLinks(t *testing.T) {
	whole := tarOf(t, file(".wh..wh.plnk/1.2", "kept", 0o644), file("big", strings.Repeat("x", 8<<10), 0o644))
	for name, layer := range map[string][]byte{
		"missing pseudo-link": tarOf(t, file(".wh..wh.plnk/1.2", "kept", 0o644), hardlink("a", ".wh..wh.plnk/3.4")),
		"cut short":           whole[:2048],
	} {
		t.Run(name, func(t *testing.T) {
			j := newJail(t)
			_, err := Apply(context.Background(), j.root, bytes.NewReader(layer), Options{IgnoreOwners: os.Geteuid() != 0})
			j.check(t)
			if err == nil {
				t.Fatalf("Apply() = nil error, want one")
			}
			wantNoWhiteoutMeta(t, j.root)
		})
	}
}
