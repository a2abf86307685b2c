package layers

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func wantFile(t *testing.T, root, name, body string, perm fs.FileMode) {
	t.Helper()
	p := filepath.Join(root, name)
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatalf("Lstat(%q) = %v", name, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != perm {
		t.Errorf("mode of %q = %v, want regular %v", name, fi.Mode(), perm)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != body {
		t.Errorf("ReadFile(%q) = %q, %v; want %q", name, b, err, body)
	}
}

func wantMode(t *testing.T, root, name string, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(root, name))
	if err != nil {
		t.Fatalf("Lstat(%q) = %v", name, err)
	}
	if fi.Mode() != mode {
		t.Errorf("mode of %q = %v, want %v", name, fi.Mode(), mode)
	}
}

func wantMtime(t *testing.T, root, name string, want time.Time) {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(root, name))
	if err != nil {
		t.Fatalf("Lstat(%q) = %v", name, err)
	}
	if !fi.ModTime().Equal(want) {
		t.Errorf("mtime of %q = %v, want %v", name, fi.ModTime(), want)
	}
}

func wantSymlink(t *testing.T, root, name, target string) {
	t.Helper()
	got, err := os.Readlink(filepath.Join(root, name))
	if err != nil || got != target {
		t.Errorf("Readlink(%q) = %q, %v; want %q", name, got, err, target)
	}
}

func wantSameInode(t *testing.T, root, a, b string) {
	t.Helper()
	fa, err := os.Lstat(filepath.Join(root, a))
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Lstat(filepath.Join(root, b))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(fa, fb) {
		t.Errorf("%q and %q are different inodes, want one hard-linked inode", a, b)
	}
}

func wantWhiteout(t *testing.T, root, name string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, name), &st); err != nil {
		t.Fatalf("Lstat(%q) = %v", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("%q: mode %o rdev %d, want a 0/0 character device", name, st.Mode, st.Rdev)
	}
	if _, err := os.Lstat(filepath.Join(root, filepath.Dir(name), ".wh."+filepath.Base(name))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the .wh. entry of %q exists as a file (%v), want only the device", name, err)
	}
}

func wantNotExist(t *testing.T, root, name string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(root, name)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat(%q) = %v, want it absent", name, err)
	}
}

func getXattr(root, name, key string) (string, error) {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(filepath.Join(root, name), key, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func wantXattr(t *testing.T, root, name, key, want string) {
	t.Helper()
	got, err := getXattr(root, name, key)
	if err != nil || got != want {
		t.Errorf("xattr %s of %q = %q, %v; want %q", key, name, got, err, want)
	}
}

func wantNoXattr(t *testing.T, root, name, key string) {
	t.Helper()
	if got, err := getXattr(root, name, key); !errors.Is(err, unix.ENODATA) {
		t.Errorf("xattr %s of %q = %q, %v; want none", key, name, got, err)
	}
}

// wantNoWhiteoutMeta fails when a name of whiteout metadata (".wh..wh.") is anywhere in the
// layer dir root, but for the names in allowed.
func wantNoWhiteoutMeta(t *testing.T, root string, allowed ...string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(d.Name(), ".wh..wh.") && !slices.Contains(allowed, rel) {
			t.Errorf("%s is in the layer dir, want no whiteout metadata", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
