package snapshotter

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// treeEntry is what a container sees of one path: type, permissions, owner, link target,
// content, xattrs and the first path sharing its inode (a hard link).
type treeEntry struct {
	typ      string
	perm     uint32
	uid, gid int
	link     string
	sum      string
	xattrs   string
	hardlink string
}

// tarTree reads an uncompressed layer into the tree a container must see of it alone.
func tarTree(t *testing.T, r io.Reader) map[string]treeEntry {
	t.Helper()
	out := map[string]treeEntry{}
	groups := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			linkGroups(out, groups)
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(path.Clean("/"+h.Name), "/")
		if name == "" {
			continue
		}
		e := treeEntry{perm: uint32(h.Mode) & 0o7777, uid: h.Uid, gid: h.Gid}
		switch h.Typeflag {
		case tar.TypeDir:
			e.typ = "dir"
		case tar.TypeSymlink:
			e.typ, e.link = "symlink", h.Linkname
		case tar.TypeReg:
			e.typ = "file"
			hs := sha256.New()
			if _, err := io.Copy(hs, tr); err != nil {
				t.Fatal(err)
			}
			e.sum = hex.EncodeToString(hs.Sum(nil))
		case tar.TypeLink:
			target := path.Clean("/" + h.Linkname)
			e = out[target]
			if groups[target] == "" {
				groups[target] = target
			}
			groups[name] = groups[target]
		default:
			t.Fatalf("%s: unexpected type %c in a real image", h.Name, h.Typeflag)
		}
		var xs []string
		for k, v := range h.PAXRecords {
			if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				xs = append(xs, name+"="+hex.EncodeToString([]byte(v)))
			}
		}
		sort.Strings(xs)
		if h.Typeflag != tar.TypeLink {
			e.xattrs = strings.Join(xs, ",")
		}
		out[name] = e
	}
}

// mountedTree walks a mounted rootfs into the same form, leaving out the paths in skip.
func mountedTree(t *testing.T, rootfs string, skip map[string]bool) map[string]treeEntry {
	t.Helper()
	out := map[string]treeEntry{}
	groups := map[string]string{}
	err := filepath.WalkDir(rootfs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, rootfs)
		if name == "" {
			return nil
		}
		if skip[name] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		e := treeEntry{perm: st.Mode & 0o7777, uid: int(st.Uid), gid: int(st.Gid)}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			e.typ = "dir"
		case unix.S_IFLNK:
			e.typ = "symlink"
			if e.link, err = os.Readlink(p); err != nil {
				return err
			}
		case unix.S_IFREG:
			e.typ = "file"
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			e.sum = hex.EncodeToString(s[:])
			if st.Nlink > 1 {
				groups[name] = fmt.Sprint(st.Dev, st.Ino)
			}
		default:
			e.typ = fmt.Sprintf("mode %o", st.Mode&unix.S_IFMT)
		}
		names, err := listXattrs(p)
		if err != nil {
			return err
		}
		var xs []string
		for _, n := range names {
			v, err := getXattr(p, n)
			if err != nil {
				return err
			}
			xs = append(xs, n+"="+hex.EncodeToString(v))
		}
		sort.Strings(xs)
		e.xattrs = strings.Join(xs, ",")
		out[name] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	linkGroups(out, groups)
	return out
}

// linkGroups names each hard link group of tree (paths mapped to a group key) by its first
// path in lexical order, in every member's hardlink field; a group of one is no link.
func linkGroups(tree map[string]treeEntry, groups map[string]string) {
	first, count := map[string]string{}, map[string]int{}
	for p, g := range groups {
		count[g]++
		if f, ok := first[g]; !ok || p < f {
			first[g] = p
		}
	}
	for p, g := range groups {
		if count[g] > 1 {
			e := tree[p]
			e.hardlink = first[g]
			tree[p] = e
		}
	}
}

func gunzipBytes(t *testing.T, b []byte) io.Reader {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return zr
}

func diffTrees(t *testing.T, what string, got, want map[string]treeEntry) {
	t.Helper()
	n := 0
	for p, w := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("%s: %s missing, want %+v", what, p, w)
			n++
		} else if g != w {
			t.Errorf("%s: %s = %+v, want %+v", what, p, g, w)
			n++
		}
		if n > 20 {
			t.Fatalf("%s: too many differences", what)
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: unexpected %s %+v", what, p, g)
		}
	}
}

// busyboxImage returns the first image of the busybox OCI layout in testdata.
func busyboxImage(t *testing.T) v1.Image {
	t.Helper()
	p, err := layout.FromPath(busyboxOCI)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// busyboxLayer returns the busybox image's only layer, uncompressed, and its DiffID.
func busyboxLayer(t *testing.T) (func() io.ReadCloser, v1.Hash, func() io.ReadCloser) {
	t.Helper()
	ls, err := busyboxImage(t).Layers()
	if err != nil || len(ls) != 1 {
		t.Fatalf("busybox layers = %d, %v, want one", len(ls), err)
	}
	d, err := ls[0].DiffID()
	if err != nil {
		t.Fatal(err)
	}
	open := func(f func() (io.ReadCloser, error)) func() io.ReadCloser {
		return func() io.ReadCloser {
			rc, err := f()
			if err != nil {
				t.Fatal(err)
			}
			return rc
		}
	}
	return open(ls[0].Compressed), d, open(ls[0].Uncompressed)
}

func gunzipFile(t *testing.T, p string) io.ReadCloser {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return zr
}

// TestRealImageTrees mounts alpine and busybox as a container sees them, with each driver, and
// compares every path's type, mode, owner, link target, content, xattrs and hard links with
// the layer's tar. A layer on top adds a ping with a file capability, user.*, trusted.* and
// an ACL, which must reach the container whatever the driver.
func TestRealImageTrees(t *testing.T) {
	testutil.Requires(t, testutil.Path(alpineLayer), testutil.Path(busyboxOCI))
	capNetRaw := string([]byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	// ACL v2: user::rwx, user:1000:r--, group::r-x, mask::r-x, other::r-x.
	acl := string([]byte{2, 0, 0, 0,
		1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,
		2, 0, 4, 0, 0xe8, 3, 0, 0,
		4, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
		0x10, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
		0x20, 0, 5, 0, 0xff, 0xff, 0xff, 0xff})
	extras := buildLayer(t, dir("usr/"), dir("usr/local/"), dir("usr/local/bin/"),
		entry{name: "usr/local/bin/ping", body: "ping", mode: 0o755, xattrs: map[string]string{
			"security.capability":     capNetRaw,
			"user.origin":             "image",
			"trusted.note":            "kept",
			"system.posix_acl_access": acl,
		}},
		hardlink("usr/local/bin/ping6", "usr/local/bin/ping"))
	bbOpen, bbDiff, bbTar := busyboxLayer(t)
	images := []struct {
		name   string
		unpack func(t *testing.T, s *Snapshotter) v1.Hash
		tar    func(t *testing.T) io.ReadCloser
	}{
		{"alpine", func(t *testing.T, s *Snapshotter) v1.Hash { return unpackFile(t, s, alpineLayer) },
			func(t *testing.T) io.ReadCloser { return gunzipFile(t, alpineLayer) }},
		{"busybox", func(t *testing.T, s *Snapshotter) v1.Hash {
			rc := bbOpen()
			defer rc.Close()
			if err := s.Unpack(t.Context(), bbDiff, gzipLayer, rc); err != nil {
				t.Fatal(err)
			}
			return bbDiff
		}, func(t *testing.T) io.ReadCloser { return bbTar() }},
	}
	extraTree := tarTree(t, gunzipBytes(t, extras.gz))
	for _, im := range images {
		rc := im.tar(t)
		want := tarTree(t, rc)
		rc.Close()
		for p, e := range extraTree {
			want[p] = e
		}
		for _, d := range drivers {
			for _, ro := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/ro=%v", im.name, d.name, ro), func(t *testing.T) {
					s, base := newTestSnapshotter(t, d)
					ids := []v1.Hash{im.unpack(t, s)}
					unpack(t, s, extras)
					ids = append(ids, extras.diffID)
					cdir := filepath.Join(base, "containers", "c")
					mounts, err := s.Prepare(t.Context(), cdir, ids, ro)
					if err != nil {
						t.Fatalf("Prepare = %v", err)
					}
					rootfs := filepath.Join(cdir, "rootfs")
					mountAll(t, mounts, rootfs)
					skip := map[string]bool{}
					for _, p := range runtimeMountpoints {
						p = "/" + strings.TrimSuffix(p, "/")
						if _, ok := want[p]; !ok {
							skip[p] = true
						}
					}
					diffTrees(t, im.name+" on "+d.name, mountedTree(t, rootfs, skip), want)
				})
			}
		}
	}
}

// TestReadOnlyImageEtcSymlink: an image whose /etc is a symlink (etc -> usr/etc) keeps its
// files in a read-only container, whatever the driver; the runtime mount points are made
// where the link leads, as the container resolves them, and the image's own files are left
// as they are.
func TestReadOnlyImageEtcSymlink(t *testing.T) {
	img := buildLayer(t, dir("usr/"), dir("usr/etc/"), file("usr/etc/passwd", "root:x:0:0"),
		file("usr/etc/hosts", "127.0.0.1 image"), symlink("etc", "usr/etc"), symlink("dev", "/missing/dev"))
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			unpack(t, s, img)
			cdir := filepath.Join(base, "containers", "c")
			mounts, err := s.Prepare(t.Context(), cdir, []v1.Hash{img.diffID}, true)
			if err != nil {
				t.Fatalf("Prepare = %v", err)
			}
			rootfs := filepath.Join(cdir, "rootfs")
			mountAll(t, mounts, rootfs)
			if target, err := os.Readlink(filepath.Join(rootfs, "etc")); err != nil || target != "usr/etc" {
				t.Errorf("readlink etc = %q, %v, want usr/etc", target, err)
			}
			wantContent(t, filepath.Join(rootfs, "usr", "etc", "passwd"), "root:x:0:0")
			wantContent(t, filepath.Join(rootfs, "usr", "etc", "hosts"), "127.0.0.1 image")
			wantContent(t, filepath.Join(rootfs, "usr", "etc", "resolv.conf"), "")
			if fi, err := os.Lstat(filepath.Join(rootfs, "missing", "dev")); err != nil || !fi.IsDir() {
				t.Errorf("lstat missing/dev = %v, %v, want the directory /dev leads to", fi, err)
			}
		})
	}
}

// subtree is the part of tree under dir, renamed relative to it, with hard link groups named
// again by their first member inside it.
func subtree(tree map[string]treeEntry, dir string) map[string]treeEntry {
	out := map[string]treeEntry{}
	groups := map[string]string{}
	for p, e := range tree {
		rel, ok := strings.CutPrefix(p, dir+"/")
		if !ok {
			continue
		}
		if e.hardlink != "" {
			groups["/"+rel] = e.hardlink
			e.hardlink = ""
		}
		out["/"+rel] = e
	}
	linkGroups(out, groups)
	return out
}

// TestRealImageVolumes fills VOLUMEs from alpine's /etc (symlinks, 0640 and 0600 files,
// group-owned ones), /bin (symlinks to /bin/busybox, not followed) and busybox's /bin (400
// hard links to one binary) with each driver, and compares the copy with the layer's tar.
func TestRealImageVolumes(t *testing.T) {
	testutil.Requires(t, testutil.Path(alpineLayer), testutil.Path(busyboxOCI))
	bbOpen, bbDiff, bbTar := busyboxLayer(t)
	images := []struct {
		name    string
		targets []string
		unpack  func(t *testing.T, s *Snapshotter) v1.Hash
		tar     func(t *testing.T) io.ReadCloser
	}{
		{"alpine", []string{"/etc", "/bin", "/var/spool"}, func(t *testing.T, s *Snapshotter) v1.Hash { return unpackFile(t, s, alpineLayer) },
			func(t *testing.T) io.ReadCloser { return gunzipFile(t, alpineLayer) }},
		{"busybox", []string{"/bin", "/etc"}, func(t *testing.T, s *Snapshotter) v1.Hash {
			rc := bbOpen()
			defer rc.Close()
			if err := s.Unpack(t.Context(), bbDiff, gzipLayer, rc); err != nil {
				t.Fatal(err)
			}
			return bbDiff
		}, func(t *testing.T) io.ReadCloser { return bbTar() }},
	}
	for _, im := range images {
		rc := im.tar(t)
		want := tarTree(t, rc)
		rc.Close()
		for _, d := range drivers {
			for _, ro := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/ro=%v", im.name, d.name, ro), func(t *testing.T) {
					s, base := newTestSnapshotter(t, d)
					ids := []v1.Hash{im.unpack(t, s)}
					cdir := filepath.Join(base, "containers", "c")
					if _, err := s.Prepare(t.Context(), cdir, ids, ro); err != nil {
						t.Fatalf("Prepare = %v", err)
					}
					for i, target := range im.targets {
						dst := filepath.Join(base, "volumes", strconv.Itoa(i))
						if err := s.PopulateVolume(t.Context(), cdir, ids, target, dst); err != nil {
							t.Fatalf("PopulateVolume(%s) = %v", target, err)
						}
						var st unix.Stat_t
						if err := unix.Lstat(dst, &st); err != nil {
							t.Fatal(err)
						}
						if w := want[target]; st.Mode&0o7777 != w.perm || int(st.Uid) != w.uid || int(st.Gid) != w.gid {
							t.Errorf("volume %s root = %o %d:%d, want %o %d:%d", target, st.Mode&0o7777, st.Uid, st.Gid, w.perm, w.uid, w.gid)
						}
						wantVol := subtree(want, target)
						if ro {
							// The runtime mount points a read-only root needed are in the
							// image's view, as docker's init layer is in a volume's source.
							for _, p := range runtimeMountpoints {
								rel, ok := strings.CutPrefix("/"+p, target+"/")
								if ok && rel != "" && !strings.HasSuffix(rel, "/") && want["/"+p].typ == "" {
									wantVol["/"+rel] = treeEntry{typ: "file", perm: 0o644, sum: hex.EncodeToString(sha256.New().Sum(nil))}
								}
							}
						}
						diffTrees(t, "volume "+target, mountedTree(t, dst, nil), wantVol)
					}
				})
			}
		}
	}
}

// TestWhiteoutsAcrossLayers: a directory whited out in one layer and made again in a later
// one, and a subdirectory made opaque, read as overlayfs reads them, whatever the driver: in
// the container's root, in a VOLUME's copy, and for the mount points of a read-only
// container (which never show the hidden entries again).
func TestWhiteoutsAcrossLayers(t *testing.T) {
	l1 := buildLayer(t, dir("d/"), file("d/x", "x"), dir("d/sub/"), file("d/sub/y", "y"),
		dir("a/"), dir("a/b/"), file("a/b/old", "old"), dir("a/b/c/"), file("a/b/c/deep", "deep"), file("a/keep", "keep"),
		dir("w/"), dir("w/k/"), file("w/k/f", "f"), file("file", "f"), symlink("link", "/a/b"))
	l2 := buildLayer(t, file(".wh.d", ""), dir("a/"), dir("a/b/"), file("a/b/.wh..wh..opq", ""), file("a/b/mid", "mid"),
		file(".wh.w", ""))
	l3 := buildLayer(t, dir("d/"), file("d/z", "z"), dir("a/"), dir("a/b/"), file("a/b/top", "top"))
	ids := []v1.Hash{l1.diffID, l2.diffID, l3.diffID}
	wantRoot := map[string]string{"/d/z": "z", "/a/b/mid": "mid", "/a/b/top": "top", "/a/keep": "keep", "/file": "f"}
	gone := []string{"/d/x/x", "/d/sub", "/a/b/old", "/w/k/f", "/.wh.d", "/.wh.w", "/a/b/.wh..wh..opq"}
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			for _, l := range []layer{l1, l2, l3} {
				unpack(t, s, l)
			}
			cdir := filepath.Join(base, "containers", "c")
			mounts, err := s.Prepare(t.Context(), cdir, ids, true)
			if err != nil {
				t.Fatalf("Prepare = %v", err)
			}
			user := []mount.Mount{
				{Type: "tmpfs", Target: "/d/x/new"},    // under a name the whiteout deleted
				{Type: "tmpfs", Target: "/w/k"},        // under a whited-out directory
				{Type: "tmpfs", Target: "/link/c/new"}, // through the image's symlink, below the opaque dir
			}
			if err := s.AddMountpoints(t.Context(), cdir, ids, user); err != nil {
				t.Fatalf("AddMountpoints = %v", err)
			}
			err = s.AddMountpoints(t.Context(), cdir, ids, []mount.Mount{{Type: "tmpfs", Target: "/file/sub"}})
			if err == nil || !strings.Contains(err.Error(), "/file") || strings.Contains(err.Error(), base) {
				t.Errorf("AddMountpoints(/file/sub) = %v, want an error naming /file, not the host dir", err)
			}
			for i, target := range []string{"/d", "/a", "/link"} {
				dst := filepath.Join(base, "volumes", strconv.Itoa(i))
				if err := s.PopulateVolume(t.Context(), cdir, ids, target, dst); err != nil {
					t.Fatalf("PopulateVolume(%s) = %v", target, err)
				}
			}
			rootfs := filepath.Join(cdir, "rootfs")
			mountAll(t, mounts, rootfs)
			for p, body := range wantRoot {
				wantContent(t, filepath.Join(rootfs, p), body)
			}
			for _, p := range gone {
				wantAbsent(t, filepath.Join(rootfs, p))
			}
			for _, p := range []string{"/d/x/new", "/w/k", "/a/b/c/new"} {
				if fi, err := os.Lstat(filepath.Join(rootfs, p)); err != nil || !fi.IsDir() {
					t.Errorf("mount point %s = %v, %v, want a directory", p, fi, err)
				}
			}
			for _, p := range []string{"/d/sub", "/w/k/f", "/a/b/old", "/a/b/c/deep", "/link/c/deep"} {
				wantAbsent(t, filepath.Join(rootfs, p))
			}
			vols := filepath.Join(base, "volumes")
			got := mountedTree(t, vols, nil)
			names := make([]string, 0, len(got))
			for p := range got {
				names = append(names, p)
			}
			sort.Strings(names)
			// d/x and a/b/c are the read-only root's mount points, made before the copy: the
			// volume's source is the image as the container sees it.
			want := []string{"/0", "/0/x", "/0/x/new", "/0/z", "/1", "/1/b", "/1/b/c", "/1/b/c/new", "/1/b/mid", "/1/b/top", "/1/keep",
				"/2", "/2/c", "/2/c/new", "/2/mid", "/2/top"}
			if strings.Join(names, " ") != strings.Join(want, " ") {
				t.Errorf("volumes hold %q, want %q", names, want)
			}
		})
	}
}

// TestReadOnlyMountpointKeepsDirXattrs: a read-only container's mount point under an image
// directory with xattrs (a user.* one, POSIX ACLs) leaves that directory's xattrs as the image
// has them, whatever the driver: overlay shows the topmost copy of a directory, so the copy
// in the mountpoints layer must carry them as docker's copy-up does.
func TestReadOnlyMountpointKeepsDirXattrs(t *testing.T) {
	// ACL v2: user::rwx, user:1000:r-x, group::r-x, mask::r-x, other::r-x.
	acl := string([]byte{2, 0, 0, 0,
		1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,
		2, 0, 5, 0, 0xe8, 3, 0, 0,
		4, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
		0x10, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
		0x20, 0, 5, 0, 0xff, 0xff, 0xff, 0xff})
	xattrs := map[string]string{"user.tag": "srv", "system.posix_acl_access": acl, "system.posix_acl_default": acl}
	img := buildLayer(t, entry{name: "srv/", typ: tar.TypeDir, mode: 0o755, xattrs: xattrs}, file("srv/f", "f"),
		entry{name: "etc/", typ: tar.TypeDir, mode: 0o755, xattrs: map[string]string{"user.tag": "etc"}})
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			unpack(t, s, img)
			cdir := filepath.Join(base, "containers", "c")
			mounts, err := s.Prepare(t.Context(), cdir, []v1.Hash{img.diffID}, true)
			if err != nil {
				t.Fatalf("Prepare = %v", err)
			}
			if err := s.AddMountpoints(t.Context(), cdir, []v1.Hash{img.diffID}, []mount.Mount{{Type: "tmpfs", Target: "/srv/new"}}); err != nil {
				t.Fatalf("AddMountpoints = %v", err)
			}
			rootfs := filepath.Join(cdir, "rootfs")
			mountAll(t, mounts, rootfs)
			for dir, want := range map[string]map[string]string{"srv": xattrs, "etc": {"user.tag": "etc"}} {
				for name, value := range want {
					got, err := getXattr(filepath.Join(rootfs, dir), name)
					if err != nil || string(got) != value {
						t.Errorf("/%s xattr %s = %x, %v, want %x", dir, name, got, err, value)
					}
				}
			}
		})
	}
}
