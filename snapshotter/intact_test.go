package snapshotter

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-run/strata/layers"
)

// damageLayer is a layer with files at its top level, one and two levels down.
func damageLayer(t *testing.T) layer {
	return buildLayer(t, dir("bin"), file("bin/sh", "shell"), dir("etc"), file("etc/passwd", "root:x:0:0"),
		dir("usr"), dir("usr/lib"), file("usr/lib/libc.so", "libc"), file("top", "top file"))
}

// wantWhole fails unless the layer dir of l holds every file of damageLayer.
func wantWhole(t *testing.T, s *Snapshotter, l layer) {
	t.Helper()
	for name, body := range map[string]string{"bin/sh": "shell", "etc/passwd": "root:x:0:0", "usr/lib/libc.so": "libc", "top": "top file"} {
		got, err := os.ReadFile(filepath.Join(s.LayerDir(l.diffID), name))
		if err != nil || string(got) != body {
			t.Errorf("layer file %s = %q, %v; want %q", name, got, err, body)
		}
	}
}

// damaged lists the .damaged-* dirs in the snapshotter's root.
func damaged(t *testing.T, s *Snapshotter) []string {
	t.Helper()
	return withPrefix(s.Root(), damagedPrefix)
}

// TestEnsureUnpacksDamagedLayerAgain: a layer dir emptied or partly deleted by hand after its
// unpack is still a dir under its DiffID; Ensure (run, create) took it for complete, and the
// container ran over an empty or incomplete layer. It is unpacked again from its blob, and the
// damaged dir goes aside (a container started before may have it as a lower), for Prune once
// its DiffID is not needed.
func TestEnsureUnpacksDamagedLayerAgain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(dir string) error
	}{
		{"emptied", func(dir string) error {
			entries, err := os.ReadDir(dir)
			for _, e := range entries {
				err = errors.Join(err, os.RemoveAll(filepath.Join(dir, e.Name())))
			}
			return err
		}},
		{"top-level file removed", func(dir string) error { return os.Remove(filepath.Join(dir, "top")) }},
		{"top-level dir removed", func(dir string) error { return os.RemoveAll(filepath.Join(dir, "usr")) }},
		{"file one level down removed", func(dir string) error { return os.Remove(filepath.Join(dir, "bin/sh")) }},
		{"file added", func(dir string) error { return os.WriteFile(filepath.Join(dir, "etc/extra"), nil, 0o644) }},
		{"replaced by an empty dir", func(dir string) error {
			return errors.Join(os.RemoveAll(dir), os.Mkdir(dir, 0o755))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newPlain(t)
			l := damageLayer(t)
			blob := blobOf(l.gz)
			opens := 0
			if err := s.Ensure(t.Context(), l.diffID, blob, counted(l.gz, &opens)); err != nil || opens != 1 {
				t.Fatalf("first Ensure = %v after %d opens, want nil after 1", err, opens)
			}
			if err := s.Ensure(t.Context(), l.diffID, blob, counted(l.gz, &opens)); err != nil || opens != 1 {
				t.Fatalf("Ensure of an intact layer = %v after %d opens, want nil without opening", err, opens)
			}
			if err := tc.damage(s.LayerDir(l.diffID)); err != nil {
				t.Fatal(err)
			}
			if err := s.Ensure(t.Context(), l.diffID, blob, counted(l.gz, &opens)); err != nil || opens != 2 {
				t.Fatalf("Ensure of a damaged layer = %v after %d opens, want nil after unpacking it again", err, opens)
			}
			wantWhole(t, s, l)
			aside := damaged(t, s)
			if len(aside) != 1 {
				t.Fatalf("damaged dirs set aside: %q, want one", aside)
			}
			// Repaired, it is intact again: no further unpack.
			if err := s.Ensure(t.Context(), l.diffID, blob, counted(l.gz, &opens)); err != nil || opens != 2 {
				t.Fatalf("Ensure after the repair = %v after %d opens, want nil without opening", err, opens)
			}
			// The damaged dir stays while its DiffID is kept (a container may use it).
			if _, err := s.Prune(t.Context(), map[v1.Hash]bool{l.diffID: true}, false); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(aside[0]); err != nil {
				t.Errorf("the damaged dir was pruned while its DiffID is kept: %v", err)
			}
			if _, err := s.Prune(t.Context(), nil, false); err != nil {
				t.Fatal(err)
			}
			if left := damaged(t, s); len(left) != 0 {
				t.Errorf("damaged dirs left by a prune that keeps nothing: %q", left)
			}
			if _, err := os.Lstat(s.printPath(l.diffID.Hex)); err == nil {
				t.Error("the fingerprint of a pruned layer is left")
			}
		})
	}
}

// TestEnsureDamagedWithoutBlob: a damaged layer whose blob cannot be read is refused, saying
// so, and left as it is.
func TestEnsureDamagedWithoutBlob(t *testing.T) {
	s := newPlain(t)
	l := damageLayer(t)
	if err := s.UnpackBlob(t.Context(), l.diffID, blobOf(l.gz), bytes.NewReader(l.gz)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(s.LayerDir(l.diffID), "usr")); err != nil {
		t.Fatal(err)
	}
	missing := errors.New("blob missing from the store")
	err := s.Ensure(t.Context(), l.diffID, blobOf(l.gz), func() (io.ReadCloser, error) { return nil, missing })
	var de *DamagedError
	if !errors.As(err, &de) || !errors.Is(err, ErrLayerDamaged) || !errors.Is(err, missing) || de.DiffID != l.diffID {
		t.Fatalf("Ensure of a damaged layer without its blob = %v, want a DamagedError of it", err)
	}
	if !strings.Contains(de.How, "top level holds 3 entries of 4") {
		t.Errorf("damage described as %q", de.How)
	}
	if _, err := os.Lstat(filepath.Join(s.LayerDir(l.diffID), "bin/sh")); err != nil {
		t.Errorf("the damaged layer dir was changed: %v", err)
	}
}

// TestUnpackRepairsDamagedLayer: a pull (UnpackBlob) of a layer whose dir is damaged unpacks
// it again, where it only hashed the stream against the damaged dir.
func TestUnpackRepairsDamagedLayer(t *testing.T) {
	s := newPlain(t)
	l := damageLayer(t)
	if err := s.UnpackBlob(t.Context(), l.diffID, blobOf(l.gz), bytes.NewReader(l.gz)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(s.LayerDir(l.diffID), "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if err := s.UnpackBlob(t.Context(), l.diffID, blobOf(l.gz), bytes.NewReader(l.gz)); err != nil {
		t.Fatal(err)
	}
	wantWhole(t, s, l)
}

// TestEnsureNotDamage: what changes a layer dir's stats but not its names is no damage: an
// empty layer (a tar without entries) stays empty, a chmod of its root, a dir copied in its
// place (a store restored from a backup). None is unpacked again.
func TestEnsureNotDamage(t *testing.T) {
	s := newPlain(t)
	empty := buildLayer(t)
	l := damageLayer(t)
	opens := 0
	for _, x := range []layer{empty, l} {
		if err := s.Ensure(t.Context(), x.diffID, blobOf(x.gz), counted(x.gz, &opens)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(s.LayerDir(l.diffID), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(s.LayerDir(l.diffID), "etc"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, x := range []layer{empty, l} {
		if err := s.Ensure(t.Context(), x.diffID, blobOf(x.gz), counted(x.gz, &opens)); err != nil {
			t.Fatal(err)
		}
	}
	// A copy in its place: other inodes, same names.
	orig := s.LayerDir(l.diffID)
	moved := orig + ".orig"
	if err := os.Rename(orig, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(orig, os.DirFS(moved)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(moved); err != nil {
		t.Fatal(err)
	}
	for _, x := range []layer{empty, l} {
		if err := s.Ensure(t.Context(), x.diffID, blobOf(x.gz), counted(x.gz, &opens)); err != nil {
			t.Fatal(err)
		}
	}
	if opens != 2 {
		t.Errorf("blobs opened %d times, want 2 (the first unpacks only)", opens)
	}
	if state, how := s.intact(l.diffID); state != intactOK {
		t.Errorf("the copied layer checks as %v (%s), want intact", state, how)
	}
	if aside := damaged(t, s); len(aside) != 0 {
		t.Errorf("damaged dirs set aside: %q", aside)
	}
}

// TestEnsureFingerprintsOldLayer: a layer dir unpacked before fingerprints existed is used as
// it is and fingerprinted, so damage after that is found.
func TestEnsureFingerprintsOldLayer(t *testing.T) {
	s := newPlain(t)
	l := damageLayer(t)
	if err := s.UnpackBlob(t.Context(), l.diffID, blobOf(l.gz), bytes.NewReader(l.gz)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(s.printPath(l.diffID.Hex)); err != nil {
		t.Fatal(err)
	}
	opens := 0
	if err := s.Ensure(t.Context(), l.diffID, blobOf(l.gz), counted(l.gz, &opens)); err != nil || opens != 0 {
		t.Fatalf("Ensure of a layer without a fingerprint = %v after %d opens, want nil without opening", err, opens)
	}
	if err := os.Remove(filepath.Join(s.LayerDir(l.diffID), "top")); err != nil {
		t.Fatal(err)
	}
	if err := s.Ensure(t.Context(), l.diffID, blobOf(l.gz), counted(l.gz, &opens)); err != nil || opens != 1 {
		t.Fatalf("Ensure of the damaged layer = %v after %d opens, want nil after unpacking it again", err, opens)
	}
	wantWhole(t, s, l)
}

// TestEnsureDamagedConcurrent: two runs at once over a damaged layer both get it whole; it is
// unpacked again once (the layer lock), and nothing is removed from under the other.
func TestEnsureDamagedConcurrent(t *testing.T) {
	s := newPlain(t)
	l := damageLayer(t)
	if err := s.UnpackBlob(t.Context(), l.diffID, blobOf(l.gz), bytes.NewReader(l.gz)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(s.LayerDir(l.diffID), "bin")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each its own Snapshotter, as separate processes have.
			s2, err := New(s.Root(), Options{Driver: VFS, Layer: s.layer})
			if err == nil {
				err = s2.Ensure(t.Context(), l.diffID, blobOf(l.gz), func() (io.ReadCloser, error) {
					return io.NopCloser(bytes.NewReader(l.gz)), nil
				})
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Ensure #%d = %v", i, err)
		}
	}
	wantWhole(t, s, l)
	if aside := damaged(t, s); len(aside) != 1 {
		t.Errorf("damaged dirs set aside: %q, want one", aside)
	}
}

// TestParsePrintRefusesGarbage: a fingerprint that does not parse is damage (the layer is
// unpacked again), never a panic; one fits in an ext4 inode (under 60 bytes).
func TestParsePrintRefusesGarbage(t *testing.T) {
	p := layerPrint{count: 18, stats: [16]byte{1, 2}, names: [16]byte{3}}
	good := p.String()
	if len(good) >= 60 {
		t.Errorf("fingerprint %q is %d bytes: ext4 keeps a symlink's target in its inode under 60", good, len(good))
	}
	if got, err := parsePrint(good); err != nil || got != p {
		t.Fatalf("parsePrint(%q) = %+v, %v; want %+v", good, got, err, p)
	}
	for _, bad := range []string{"", "p1", "p2" + good[2:], good + ":", strings.Replace(good, ":18:", ":-1:", 1),
		strings.Replace(good, ":18:", ":x:", 1), good[:len(good)-1], good + "A", strings.Replace(good, "AQI", "!!!", 1)} {
		if _, err := parsePrint(bad); err == nil {
			t.Errorf("parsePrint(%q) = nil error", bad)
		}
	}
	// A fingerprint that does not parse marks the layer damaged.
	s := newPlain(t)
	l := damageLayer(t)
	if err := s.UnpackBlob(t.Context(), l.diffID, blobOf(l.gz), bytes.NewReader(l.gz)); err != nil {
		t.Fatal(err)
	}
	pp := s.printPath(l.diffID.Hex)
	if err := errors.Join(os.Remove(pp), os.Symlink("garbage", pp)); err != nil {
		t.Fatal(err)
	}
	if state, how := s.intact(l.diffID); state != intactDamaged || !strings.Contains(how, "fingerprint") {
		t.Errorf("a garbled fingerprint checks as %v, %q; want damaged", state, how)
	}
}

// BenchmarkEnsureIntact is the run path's cost per layer of a whole layer: the layer dir's
// stat and proof (as before fingerprints) and the fingerprint check, over a base layer with
// alpine's 18 top-level dirs.
func BenchmarkEnsureIntact(b *testing.B) {
	root := filepath.Join(b.TempDir(), "snapshots")
	s, err := New(root, Options{Driver: VFS, Layer: layers.Options{IgnoreOwners: os.Geteuid() != 0}})
	if err != nil {
		b.Fatal(err)
	}
	var entries []entry
	for _, d := range []string{"bin", "dev", "etc", "home", "lib", "media", "mnt", "opt", "proc", "root", "run", "sbin", "srv", "sys", "tmp", "usr", "var", "x"} {
		entries = append(entries, dir(d))
		for i := range 10 {
			entries = append(entries, file(d+"/f"+strconv.Itoa(i), "x"))
		}
	}
	l := buildLayer(b, entries...)
	blob := blobOf(l.gz)
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(l.gz)), nil }
	if err := s.Ensure(b.Context(), l.diffID, blob, open); err != nil {
		b.Fatal(err)
	}
	b.Run("ensure", func(b *testing.B) {
		for b.Loop() {
			if err := s.Ensure(b.Context(), l.diffID, blob, open); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("has+proven", func(b *testing.B) {
		for b.Loop() {
			if !s.Has(l.diffID) || !s.Proven(l.diffID, blob.Digest) {
				b.Fatal("not there")
			}
		}
	})
	b.Run("names compare", func(b *testing.B) {
		for b.Loop() {
			if _, err := takePrint(s.LayerDir(l.diffID)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
