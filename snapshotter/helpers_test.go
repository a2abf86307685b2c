package snapshotter

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/sys/mountinfo"
	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/layers"
	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// entry is one tar entry of a test layer.
type entry struct {
	name     string
	typ      byte // tar.TypeReg when 0
	body     string
	linkname string
	mode     int64
	uid, gid int
	xattrs   map[string]string
	mtime    time.Time
	devmajor int64 // a device node's numbers (tar.TypeChar, tar.TypeBlock)
	devminor int64
}

func file(name, body string) entry { return entry{name: name, body: body} }
func dir(name string) entry        { return entry{name: name, typ: tar.TypeDir} }
func symlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, linkname: target}
}
func hardlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeLink, linkname: target}
}

// layer is a gzip-compressed test layer and its DiffID.
type layer struct {
	gz     []byte
	diffID v1.Hash
}

const gzipLayer = types.OCILayer

// buildLayer writes entries as a tar, gzips it, and hashes the tar for the DiffID.
func buildLayer(t testing.TB, entries ...entry) layer {
	t.Helper()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.linkname, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: e.mtime, Devmajor: e.devmajor, Devminor: e.devminor, Format: tar.FormatPAX}
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return layerOf(t, tarBuf.Bytes())
}

// layerOf is the layer of the tar stream raw: gzipped, its diffID the sha256 of raw.
func layerOf(t testing.TB, raw []byte) layer {
	t.Helper()
	sum := sha256.Sum256(raw)
	var gzBuf bytes.Buffer
	zw := gzip.NewWriter(&gzBuf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return layer{gz: gzBuf.Bytes(), diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
}

// driverCase is one snapshotter driver the conformance suite runs against.
type driverCase struct {
	name   string
	driver Driver
	layer  layers.Options
	reqs   []testutil.Requirement
}

// drivers: both need root to mount and to unpack whiteouts (0/0 devices); overlay also
// needs an overlay mount to work here.
// The userxattr case writes opaque markers as user.overlay.opaque and mounts with
// "userxattr", as rootless strata will.
var drivers = []driverCase{
	{"overlay", Overlay, layers.Options{}, []testutil.Requirement{testutil.Root, testutil.Mknod, testutil.Overlay}},
	{"overlay-userxattr", Overlay, layers.Options{Whiteouts: layers.WhiteoutUserXattr}, []testutil.Requirement{testutil.Root, testutil.Mknod, testutil.Overlay}},
	{"vfs", VFS, layers.Options{}, []testutil.Requirement{testutil.Root, testutil.Mknod}},
}

// newTestSnapshotter is the suite's factory: a snapshotter with d's driver on a fresh root,
// whose tree is dumped to the log if the test fails.
func newTestSnapshotter(t *testing.T, d driverCase) (s *Snapshotter, base string) {
	t.Helper()
	testutil.Requires(t, d.reqs...)
	base = t.TempDir()
	s, err := New(filepath.Join(base, "snapshots"), Options{Driver: d.driver, Layer: d.layer})
	if err != nil {
		t.Fatalf("New(%s) = %v", d.driver, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpTree(t, base)
		}
	})
	// Registered after the dump, so it runs first: nothing stays mounted under base.
	t.Cleanup(func() {
		if err := mount.UnmountAll(base); err != nil {
			t.Errorf("UnmountAll(%q) = %v", base, err)
		}
	})
	return s, base
}

// dumpTree logs every path under dir with its type and size, as the failing test saw it.
func dumpTree(t *testing.T, dir string) {
	t.Logf("tree of %s:", dir)
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Logf("  %s: %v", p, err)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		extra := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			extra = " -> " + target
		}
		t.Logf("  %-60s %v %d%s", rel, info.Mode(), info.Size(), extra)
		return nil
	})
}

func unpack(t *testing.T, s *Snapshotter, l layer) {
	t.Helper()
	if err := s.Unpack(t.Context(), l.diffID, gzipLayer, bytes.NewReader(l.gz)); err != nil {
		t.Fatalf("Unpack(%s) = %v", short(l.diffID), err)
	}
}

// mountAll performs mounts at rootfs as the runner would, and unmounts them on cleanup.
func mountAll(t *testing.T, mounts []mount.Mount, rootfs string) {
	t.Helper()
	t.Cleanup(func() {
		if err := mount.UnmountAll(rootfs); err != nil {
			t.Errorf("UnmountAll(%q) = %v", rootfs, err)
		}
	})
	for _, m := range mounts {
		if err := m.Mount(filepath.Join(rootfs, m.Target)); err != nil {
			t.Fatalf("mounting %+v: %v", m, err)
		}
	}
}

// mountsUnder lists mountpoints at or under dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range infos {
		out = append(out, i.Mountpoint)
	}
	return out
}

// tmpDirs lists the .tmp-* entries in a snapshot root.
func tmpDirs(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func readFile(t *testing.T, path string) (string, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	return string(b), err
}

func wantContent(t *testing.T, path, want string) {
	t.Helper()
	got, err := readFile(t, path)
	if err != nil || got != want {
		t.Errorf("reading %s = %q, %v, want %q", path, got, err, want)
	}
}

func wantAbsent(t *testing.T, path string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err == nil {
		t.Errorf("%s exists (mode %o), want it absent", path, st.Mode)
	} else if err != unix.ENOENT {
		t.Errorf("lstat %s = %v, want ENOENT", path, err)
	}
}

func hashOf(s string) v1.Hash {
	sum := sha256.Sum256([]byte(s))
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum)}
}
