package layers

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// alpineLayers returns the alpine minirootfs tarballs in the repo's testdata.
func alpineLayers(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "alpine", "alpine-minirootfs-*-x86_64.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Skip("skipping: no alpine-minirootfs-*-x86_64.tar.gz in ../testdata/alpine")
	}
	return paths
}

// TestApplyAlpine applies real alpine layers and checks every entry against the tar as the
// standard library reads it, and the DiffID against one computed with compress/gzip.
func TestApplyAlpine(t *testing.T) {
	for _, p := range alpineLayers(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			layer, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			raw := gunzip(t, layer)
			j := newJail(t)
			root := os.Geteuid() == 0
			got, err := Apply(context.Background(), j.root, bytes.NewReader(layer), Options{MediaType: types.DockerLayer, IgnoreOwners: !root})
			if err != nil {
				t.Fatalf("Apply(%s) = %v", filepath.Base(p), err)
			}
			j.check(t)
			sum := sha256.Sum256(raw)
			if want := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}); got != want {
				t.Errorf("Apply(%s) DiffID = %s, want %s", filepath.Base(p), got, want)
			}
			compareTree(t, j.root, raw, root)
		})
	}
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// compareTree checks that each entry of the tar exists under root with its type, mode, size,
// link target, mtime and (when owners were applied) owner. The last entry of a name wins.
func compareTree(t *testing.T, root string, raw []byte, owners bool) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(raw))
	last := map[string]*tar.Header{}
	var order []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := last[name]; !ok {
			order = append(order, name)
		}
		last[name] = hdr
	}
	for _, name := range order {
		hdr := last[name]
		p := filepath.Join(root, name)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Errorf("Lstat(%q) = %v", name, err)
			continue
		}
		wantType := map[byte]uint32{
			tar.TypeReg: unix.S_IFREG, tar.TypeLink: unix.S_IFREG, tar.TypeDir: unix.S_IFDIR,
			tar.TypeSymlink: unix.S_IFLNK, tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK,
			tar.TypeFifo: unix.S_IFIFO,
		}[hdr.Typeflag]
		if st.Mode&unix.S_IFMT != wantType {
			t.Errorf("%q: type %o, want %o", name, st.Mode&unix.S_IFMT, wantType)
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeLink:
			target, _ := cleanName(hdr.Linkname)
			wantSameInode(t, root, target, name)
			continue
		case tar.TypeSymlink:
			wantSymlink(t, root, name, hdr.Linkname)
		case tar.TypeReg:
			if st.Size != hdr.Size {
				t.Errorf("%q: size %d, want %d", name, st.Size, hdr.Size)
			}
		}
		if hdr.Typeflag != tar.TypeSymlink && st.Mode&0o7777 != uint32(hdr.Mode)&0o7777 {
			t.Errorf("%q: mode %o, want %o", name, st.Mode&0o7777, hdr.Mode&0o7777)
		}
		if owners && (st.Uid != uint32(hdr.Uid) || st.Gid != uint32(hdr.Gid)) {
			t.Errorf("%q: owner %d:%d, want %d:%d", name, st.Uid, st.Gid, hdr.Uid, hdr.Gid)
		}
		fi, err := os.Lstat(p)
		if err == nil && !fi.ModTime().Equal(hdr.ModTime) {
			t.Errorf("%q: mtime %v, want %v", name, fi.ModTime(), hdr.ModTime)
		}
	}
}
