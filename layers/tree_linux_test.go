package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type treeEntry struct {
	typ  byte
	body string // content, or a link's target
	mode int64
}

func readTree(t *testing.T, data []byte) (names []string, entries map[string]treeEntry) {
	t.Helper()
	entries = map[string]treeEntry{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, entries
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		body := string(b)
		if h.Linkname != "" {
			body = h.Linkname
		}
		names = append(names, h.Name)
		entries[h.Name] = treeEntry{typ: h.Typeflag, body: body, mode: h.Mode}
	}
}

func writeTree(t *testing.T, dirs []string, opts TreeOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteTree(context.Background(), &buf, dirs, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mkfile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func requireRootForNodes(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: whiteouts are character devices and opaque dirs trusted.* xattrs")
	}
}

// TestWriteTreeDiff: an overlay upper dir as a layer, whiteouts and opaque dirs in the OCI's
// form, entries sorted, a symlink written as one (its target never read), hard links as links,
// and the same bytes each time.
func TestWriteTreeDiff(t *testing.T) {
	requireRootForNodes(t)
	up := t.TempDir()
	mkfile(t, filepath.Join(up, "b", "file"), "data")
	mkfile(t, filepath.Join(up, "a"), "first")
	if err := os.Link(filepath.Join(up, "a"), filepath.Join(up, "c")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(up, "gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(up, "opq"), 0o755)
	if err := unix.Setxattr(filepath.Join(up, "opq"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Skipf("no trusted xattrs here: %v", err)
	}
	if err := os.Symlink("/etc/shadow", filepath.Join(up, "lnk")); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1000000000, 0)
	os.Chtimes(filepath.Join(up, "a"), old, old)

	data := writeTree(t, []string{up}, TreeOptions{Diff: true})
	names, e := readTree(t, data)
	want := []string{"a", "b/", "b/file", "c", ".wh.gone", "lnk", "opq/", "opq/.wh..wh..opq"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("entries %v, want %v", names, want)
	}
	if e["c"].typ != tar.TypeLink || e["c"].body != "a" {
		t.Errorf("c: %+v, want a hard link to a", e["c"])
	}
	if e["lnk"].typ != tar.TypeSymlink || e["lnk"].body != "/etc/shadow" {
		t.Errorf("lnk: %+v", e["lnk"])
	}
	tr := tar.NewReader(bytes.NewReader(data))
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		if h.Name == "a" && !h.ModTime.Equal(old) {
			t.Errorf("a's mtime %v, want %v", h.ModTime, old)
		}
	}
	if again := writeTree(t, []string{up}, TreeOptions{Diff: true}); !bytes.Equal(again, data) {
		t.Error("the same tree made another tar")
	}
	// A file named like a whiteout would delete what it names in the image.
	mkfile(t, filepath.Join(up, ".wh.x"), "")
	if err := WriteTree(context.Background(), io.Discard, []string{up}, TreeOptions{Diff: true}); err == nil {
		t.Error("a file named .wh.x was written into a layer")
	}
}

// TestWriteTreeDiffIncomplete: a writable layer overlayfs wrote with metacopy or
// redirect_dir does not hold the changes whole, nor merged the filesystem: refused, not
// written short.
func TestWriteTreeDiffIncomplete(t *testing.T) {
	requireRootForNodes(t)
	for _, tc := range []struct{ file, attr string }{{"f", "trusted.overlay.metacopy"}, {"d", "trusted.overlay.redirect"}} {
		up := t.TempDir()
		p := filepath.Join(up, tc.file)
		if tc.file == "d" {
			os.Mkdir(p, 0o755)
		} else {
			mkfile(t, p, "")
		}
		if err := unix.Setxattr(p, tc.attr, []byte("x"), 0); err != nil {
			t.Skipf("no trusted xattrs here: %v", err)
		}
		if err := WriteTree(context.Background(), io.Discard, []string{up}, TreeOptions{Diff: true}); err == nil {
			t.Errorf("%s: written", tc.attr)
		}
		// Nor merged (export): the merged view is not the dirs read one by one.
		if err := WriteTree(context.Background(), io.Discard, []string{up, t.TempDir()}, TreeOptions{}); err == nil {
			t.Errorf("%s: merged written", tc.attr)
		}
	}
}

// TestWriteTreeMerged: layers merged as overlayfs shows them: the top one wins, a whiteout
// hides a name, an opaque dir its lower contents, a file a lower dir; no whiteout written.
func TestWriteTreeMerged(t *testing.T) {
	requireRootForNodes(t)
	upper, mid, low := t.TempDir(), t.TempDir(), t.TempDir()
	mkfile(t, filepath.Join(low, "keep"), "low")
	mkfile(t, filepath.Join(low, "over"), "low")
	mkfile(t, filepath.Join(low, "del"), "low")
	mkfile(t, filepath.Join(low, "d", "lowfile"), "low")
	mkfile(t, filepath.Join(low, "o", "hidden"), "low")
	mkfile(t, filepath.Join(low, "f", "hidden"), "low")
	mkfile(t, filepath.Join(mid, "d", "midfile"), "mid")
	mkfile(t, filepath.Join(mid, "f"), "now a file")
	mkfile(t, filepath.Join(upper, "over"), "up")
	mkfile(t, filepath.Join(upper, "o", "new"), "up")
	if err := unix.Setxattr(filepath.Join(upper, "o"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Skipf("no trusted xattrs here: %v", err)
	}
	if err := unix.Mknod(filepath.Join(upper, "del"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	// A symlink in the top layer where a lower has a dir: never followed, nor merged.
	os.Symlink("/", filepath.Join(upper, "s"))
	mkfile(t, filepath.Join(low, "s", "x"), "low")

	names, e := readTree(t, writeTree(t, []string{upper, mid, low}, TreeOptions{}))
	want := []string{"d/", "d/lowfile", "d/midfile", "f", "keep", "o/", "o/new", "over", "s"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("entries %v, want %v", names, want)
	}
	if e["over"].body != "up" || e["f"].body != "now a file" || e["s"].typ != tar.TypeSymlink {
		t.Errorf("wrong layer won: %+v", e)
	}
}

// TestWriteTreeHostileRoot: a layer dir that is a symlink is refused, not followed.
func TestWriteTreeHostileRoot(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "link")
	os.Symlink("/etc", link)
	if err := WriteTree(context.Background(), io.Discard, []string{link}, TreeOptions{}); err == nil {
		t.Error("a symlinked layer dir was followed")
	}
}

// TestWriteTreeOverlayNamespace: only the xattr namespace the overlay was mounted with holds
// overlayfs's marks. A root overlay passes user.overlay.* through to its upper dir, so a
// process in the container can set them: a forged opaque mark must not drop the image's
// files from a commit or an export, nor a forged metacopy or redirect refuse them. With
// userxattr it is the other way round.
func TestWriteTreeOverlayNamespace(t *testing.T) {
	requireRootForNodes(t)
	for _, userXattr := range []bool{false, true} {
		forged, real := "user.overlay.", "trusted.overlay."
		if userXattr {
			forged, real = real, forged
		}
		up, low := t.TempDir(), t.TempDir()
		mkfile(t, filepath.Join(low, "d", "image"), "low")
		mkfile(t, filepath.Join(up, "d", "new"), "up")
		mkfile(t, filepath.Join(up, "f"), "up")
		for p, attr := range map[string]string{"d": "opaque", "f": "metacopy"} {
			v := "y"
			if attr == "metacopy" {
				v = ""
			}
			if err := unix.Setxattr(filepath.Join(up, p), forged+attr, []byte(v), 0); err != nil {
				t.Skipf("no %s xattrs here: %v", forged, err)
			}
		}
		opts := TreeOptions{UserXattr: userXattr}
		names, _ := readTree(t, writeTree(t, []string{up, low}, opts))
		if want := "d/ d/image d/new f"; strings.Join(names, " ") != want {
			t.Errorf("userxattr=%v: merged %v, want %s", userXattr, names, want)
		}
		opts.Diff = true
		names, _ = readTree(t, writeTree(t, []string{up}, opts))
		if want := "d/ d/new f"; strings.Join(names, " ") != want {
			t.Errorf("userxattr=%v: layer %v, want %s", userXattr, names, want)
		}
		// The real namespace still counts.
		if err := unix.Setxattr(filepath.Join(up, "d"), real+"opaque", []byte("y"), 0); err != nil {
			t.Skipf("no %s xattrs here: %v", real, err)
		}
		names, _ = readTree(t, writeTree(t, []string{up}, opts))
		if want := "d/ d/.wh..wh..opq d/new f"; strings.Join(names, " ") != want {
			t.Errorf("userxattr=%v: layer %v, want %s", userXattr, names, want)
		}
	}
}

// TestWriteTreeNodeSwappedIn: a running container swaps one of its regular files for a
// device node, over and over (renameat2 RENAME_EXCHANGE in its writable layer, which a
// commit or an export reads while it runs); the node is never opened. WriteTree opened the
// name it had seen as a regular file with O_RDONLY: the node in its place then, which the
// host opened for the container, as root and outside the container's device cgroup (a
// watchdog's node starts the host's watchdog when opened, a tape's rewinds).
func TestWriteTreeNodeSwappedIn(t *testing.T) {
	requireRootForNodes(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("file"), 0o644); err != nil {
		t.Fatal(err)
	}
	node := filepath.Join(dir, "n")
	if err := unix.Mknod(node, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("skipping: mknod: %v", err)
	}
	in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(in)
	if _, err := unix.InotifyAddWatch(in, node, unix.IN_OPEN); err != nil {
		t.Fatal(err)
	}
	opened := func() bool {
		buf := make([]byte, 4096)
		n, _ := unix.Read(in, buf)
		return n > 0
	}
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
			}
			if err := unix.Renameat2(d, "f", d, "n", unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("renameat2: %v", err)
				return
			}
		}
	}()
	defer func() { close(quit); <-done }()
	for _, opts := range []TreeOptions{{Diff: true}, {}} {
		for i := 0; i < 2000; i++ {
			var b bytes.Buffer
			if err := WriteTree(context.Background(), &b, []string{dir}, opts); err != nil {
				t.Fatalf("WriteTree %d: %v", i, err)
			}
			if opened() {
				t.Fatalf("WriteTree %d (Diff %v) opened the device node swapped in for a file", i, opts.Diff)
			}
			_, entries := readTree(t, b.Bytes())
			for _, name := range []string{"f", "n"} {
				if e := entries[name]; e.typ == tar.TypeReg && e.body != "file" {
					t.Fatalf("WriteTree %d: %s is a file of %q, want the file's content", i, name, e.body)
				}
			}
		}
	}
}

// TestWriteTreeDirSwapped: a running container swaps a directory of its writable layer for a
// symlink to "/", over and over; every commit or export of it succeeds, with the directory or
// the symlink under each name, never what the symlink leads to on the host. The walk failed
// ("opening /d: not a directory", "reading /l: invalid argument") whenever it came by as the
// names changed type: docker's, which logs such an entry and goes on, does not fail.
func TestWriteTreeDirSwapped(t *testing.T) {
	up, low := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(up, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(up, "d", "in"), []byte("in"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(up, "l")); err != nil {
		t.Fatal(err)
	}
	d, err := unix.Open(up, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
			}
			if err := unix.Renameat2(d, "d", d, "l", unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("renameat2: %v", err)
				return
			}
		}
	}()
	defer func() { close(quit); <-done }()
	for _, tc := range []struct {
		opts TreeOptions
		dirs []string
	}{{TreeOptions{Diff: true}, []string{up}}, {TreeOptions{}, []string{up, low}}} {
		for i := 0; i < 2000; i++ {
			var b bytes.Buffer
			if err := WriteTree(context.Background(), &b, tc.dirs, tc.opts); err != nil {
				t.Fatalf("WriteTree %d (Diff %v): %v", i, tc.opts.Diff, err)
			}
			names, entries := readTree(t, b.Bytes())
			for _, n := range names {
				// Each name the directory or the symlink: a walk is no snapshot, and may
				// meet the directory under both.
				switch e := entries[n]; {
				case e.typ == tar.TypeDir && (n == "d/" || n == "l/"):
				case e.typ == tar.TypeSymlink && (n == "d" || n == "l") && e.body == "/":
				case e.typ == tar.TypeReg && (n == "d/in" || n == "l/in") && e.body == "in":
				default:
					t.Fatalf("WriteTree %d (Diff %v) wrote %s (%c %q): %v", i, tc.opts.Diff, n, e.typ, e.body, names)
				}
			}
			if len(names) == 0 {
				t.Fatalf("WriteTree %d (Diff %v) wrote nothing", i, tc.opts.Diff)
			}
		}
	}
}

// stopWriter cancels its context once it has taken at bytes, and fails a write that comes
// after more than slack bytes more.
type stopWriter struct {
	cancel     context.CancelFunc
	at, slack  int64
	n          int64
	overflowed bool
}

func (w *stopWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if w.n >= w.at {
		w.cancel()
	}
	if w.n > w.at+w.slack {
		w.overflowed = true
		return 0, errors.New("still writing past the cancel")
	}
	return len(p), nil
}

// TestWriteTreeCanceledInFile: a commit or export canceled (Ctrl-C) while it reads a huge
// file stops: a container's sparse file of a terabyte, which takes no room on its disk, was
// read to its end, hours of zeros, whatever the context said.
func TestWriteTreeCanceledInFile(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 40); err != nil {
		t.Skipf("skipping: a sparse file of 1 TiB: %v", err)
	}
	f.Close()
	for _, opts := range []TreeOptions{{Diff: true}, {}} {
		ctx, cancel := context.WithCancel(context.Background())
		w := &stopWriter{cancel: cancel, at: 1 << 20, slack: 64 << 20}
		err := WriteTree(ctx, w, []string{dir}, opts)
		cancel()
		if w.overflowed || !errors.Is(err, context.Canceled) {
			t.Errorf("WriteTree (Diff %v) canceled in a file = %v (overflowed: %v), want it to stop with context.Canceled", opts.Diff, err, w.overflowed)
		}
	}
}
