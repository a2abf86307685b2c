package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// TestPullRepairsDamagedBlobs damages a stored blob on disk the ways a disk or a careless
// copy does, then pulls the image again: the damage must be found (by size, or by digest
// where the blob is read) and the pull must leave every blob whole, not fail forever or
// keep the damaged file.
func TestPullRepairsDamagedBlobs(t *testing.T) {
	img := imageOf(t, seededLayers(t, 90, 2, 32<<10)...)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	mdigest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	truncate := func(p string) error { return os.Truncate(p, 10) }
	flip := func(p string) error {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b[len(b)/2] ^= 0xff
		return os.WriteFile(p, b, 0o644)
	}
	grow := func(p string) error {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.Write([]byte("trailing junk"))
		return errors.Join(err, f.Close())
	}
	tests := []struct {
		name   string
		blob   v1.Hash
		damage func(string) error
		// sized: the size changed, which Complete sees without reading the blob.
		sized bool
	}{
		{"layer truncated", m.Layers[0].Digest, truncate, true},
		{"layer grown", m.Layers[1].Digest, grow, true},
		{"layer flipped, read from disk", m.Layers[0].Digest, flip, false},
		{"config truncated", m.Config.Digest, truncate, true},
		{"config flipped", m.Config.Digest, flip, false},
		{"manifest truncated", mdigest, truncate, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newFakeRegistry(t, img)
			s := openStore(t, t.TempDir())
			ctx := context.Background()
			if _, err := s.WriteImage(ctx, testRef, img, WriteOptions{Fetch: reg.fetch}); err != nil {
				t.Fatal(err)
			}
			if err := tt.damage(s.BlobPath(tt.blob)); err != nil {
				t.Fatal(err)
			}
			desc, err := s.Resolve(testRef)
			if err != nil {
				t.Fatal(err)
			}
			if s.Complete(desc) && tt.sized {
				t.Errorf("Complete() = true with blob %s damaged", short(tt.blob))
			}
			// NeedLayer makes the stored layers stream from disk, as for a missing unpack.
			rec := newLayerRecorder()
			opts := WriteOptions{Fetch: reg.fetch, Layer: rec.layer, NeedLayer: func(v1.Hash) bool { return true }}
			if _, err := s.WriteImage(ctx, testRef, img, opts); err != nil {
				t.Fatalf("WriteImage over a damaged blob = %v, want it repaired", err)
			}
			checkBlobsHashToNames(t, s)
			if !s.Complete(desc) {
				t.Errorf("Complete() = false after the repair")
			}
			// Layer saw each layer whole: a damaged one's good copy, not the damaged bytes.
			for _, l := range m.Layers {
				if got := rec.got[l.Digest]; !bytes.Equal(got, reg.blobs[l.Digest]) {
					t.Errorf("Layer got %d bytes of %s, want its %d", len(got), short(l.Digest), len(reg.blobs[l.Digest]))
				}
			}
		})
	}
}

// TestReadBlobDiscardsDamaged: a reader that finds a stored config hashing to something else
// reports the mismatch and removes it, so Complete says the image needs a pull.
func TestReadBlobDiscardsDamaged(t *testing.T) {
	img := imageOf(t, seededLayers(t, 91, 1, 1024)...)
	s, m := storedImage(t, img)
	damageBlob(t, s.BlobPath(m.Config.Digest), 0)
	if _, err := s.ReadBlob(m.Config.Digest, maxSmallBlob); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("ReadBlob(damaged config) = %v, want ErrDigestMismatch", err)
	}
	if s.HasBlob(m.Config.Digest) {
		t.Error("damaged config still in the store after ReadBlob found it")
	}
}

// TestImageLayerNeverGivesDamagedBlobWhole: a push reads a stored image's layers through
// Image and uploads exactly Size bytes under the layer's digest, never reading to EOF. A layer
// damaged on disk must fail before its last bytes are given, so a registry that does not check
// digests cannot be sent the damaged blob whole.
func TestImageLayerNeverGivesDamagedBlobWhole(t *testing.T) {
	img := imageOf(t, seededLayers(t, 92, 1, 64<<10)...)
	s, m := storedImage(t, img)
	ld := m.Layers[0]
	damageBlob(t, s.BlobPath(ld.Digest), int(ld.Size/2))
	mdigest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Image(mdigest)
	if err != nil {
		t.Fatal(err)
	}
	l, err := stored.LayerByDigest(ld.Digest)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, io.LimitReader(rc, ld.Size))
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("reading %d bytes of a damaged layer: %d bytes, err %v; want ErrDigestMismatch", ld.Size, n, err)
	}
	if n >= ld.Size {
		t.Errorf("read %d bytes of a damaged layer of %d: the damaged blob was given whole", n, ld.Size)
	}
	if s.HasBlob(ld.Digest) {
		t.Error("damaged layer still in the store after it was read")
	}
}

// TestWriteBlobKeepsIntactBlobAgainstLyingSize: a descriptor that gives a stored blob the
// wrong size must fail, not make the store drop the intact blob other images use.
func TestWriteBlobKeepsIntactBlobAgainstLyingSize(t *testing.T) {
	s := openStore(t, t.TempDir())
	content := []byte("hello, blob")
	d := v1.Descriptor{Digest: hashOf(content), Size: int64(len(content))}
	ctx := context.Background()
	if err := s.WriteBlob(ctx, d, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	lie := d
	lie.Size = 3
	if err := s.WriteBlob(ctx, lie, bytes.NewReader(content[:3])); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("WriteBlob(lying size) = %v, want ErrSizeMismatch", err)
	}
	got, err := s.ReadBlob(d.Digest, 1<<10)
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("ReadBlob after a lying WriteBlob = %q, %v, want the intact blob", got, err)
	}
}

// TestPartialSymlinkNotFollowed: a symlink planted as ingest/<hex>.partial must not make a
// download write through it.
func TestPartialSymlinkNotFollowed(t *testing.T) {
	img := imageOf(t, seededLayers(t, 92, 1, 4096)...)
	reg := newFakeRegistry(t, img)
	s := openStore(t, t.TempDir())
	layer := layerDescs(t, img)[0]
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial")); err != nil {
		t.Fatal(err)
	}
	_, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: reg.fetch})
	if err == nil {
		t.Error("WriteImage through a planted partial symlink succeeded, want an error")
	}
	f, err := os.Open(victim)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b, _ := io.ReadAll(f); string(b) != "keep me" {
		t.Errorf("victim file now holds %q: the download wrote through the symlink", b)
	}
}

// TestPartialLongerThanBlob: a .partial file longer than the blob it is named for cannot be
// a prefix of it; the pull starts that blob over instead of failing on it.
func TestPartialLongerThanBlob(t *testing.T) {
	img := imageOf(t, seededLayers(t, 93, 1, 4096)...)
	reg := newFakeRegistry(t, img)
	s := openStore(t, t.TempDir())
	layer := layerDescs(t, img)[0]
	junk := bytes.Repeat([]byte{'x'}, int(layer.Size)*3)
	if err := os.WriteFile(filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial"), junk, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: reg.fetch}); err != nil {
		t.Fatalf("WriteImage over a too long partial = %v", err)
	}
	if calls := reg.callsFor(layer.Digest); len(calls) != 1 || calls[0].offset != 0 {
		t.Errorf("fetches = %+v, want one from offset 0", calls)
	}
	checkBlobsHashToNames(t, s)
	checkIngestEmpty(t, s)
}

// TestOpenDamagedIndex: an index.json that is not an index fails Open with one line, and no
// later write replaces it: the refs it may still hold are the user's to recover.
func TestOpenDamagedIndex(t *testing.T) {
	tests := []struct {
		name  string
		index []byte
	}{
		{"truncated", []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","dig`)},
		{"not json", []byte("\x00\x01binary")},
		{"empty", nil},
		{"manifests of the wrong type", []byte(`{"schemaVersion":2,"manifests":{"a":1}}`)},
		{"digest with a path", []byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:../../../etc/passwd","size":1}]}`)},
		{"trailing data", []byte(`{"schemaVersion":2,"manifests":[]}{"manifests":[]}`)},
		{"huge", append([]byte(`{"schemaVersion":2,"manifests":[],"x":"`), bytes.Repeat([]byte{'a'}, maxSmallBlob)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			p := filepath.Join(dir, "index.json")
			if err := os.WriteFile(p, tt.index, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir)
			if !errors.Is(err, ErrInvalidLayout) || bytes.ContainsRune([]byte(err.Error()), '\n') {
				t.Errorf("Open(index.json %s) = %v, want one line wrapping ErrInvalidLayout", tt.name, err)
			}
			desc := v1.Descriptor{Digest: hashOf([]byte("m")), Size: 1}
			if err := s.Tag("example.com/a:1", desc); err == nil {
				t.Error("Tag over a damaged index.json succeeded, want an error")
			}
			if got, _ := os.ReadFile(p); !bytes.Equal(got, tt.index) {
				t.Error("index.json was rewritten")
			}
		})
	}
}

// TestDownloadStopsBeforeTheDiskIsFull: a layer that claims more than the disk has room for
// (or a registry that streams without end) stops with ErrNoSpace while the disk still has
// its reserve, not at ENOSPC. The reserve is raised past the disk's size to see it work.
func TestDownloadStopsBeforeTheDiskIsFull(t *testing.T) {
	img := imageOf(t, seededLayers(t, 94, 1, 4096)...)
	reg := newFakeRegistry(t, img)
	s := openStore(t, t.TempDir())
	s.minFree = 1 << 62
	_, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: reg.fetch})
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("WriteImage with no room = %v, want ErrNoSpace", err)
	}
	if calls := len(reg.callsFor(layerDescs(t, img)[0].Digest)); calls != 1 {
		t.Errorf("fetches = %d, want 1: no retry can make room", calls)
	}
	if _, err := s.Resolve(testRef); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve after a failed pull = %v, want ErrNotFound", err)
	}
	checkBlobsHashToNames(t, s)
}

// TestPartialNotARegularFile: a FIFO where a download's partial file goes would block the
// download's writes forever; it fails at once instead, naming the file.
func TestPartialNotARegularFile(t *testing.T) {
	img := imageOf(t, seededLayers(t, 95, 1, 4096)...)
	reg := newFakeRegistry(t, img)
	s := openStore(t, t.TempDir())
	partial := filepath.Join(s.Dir(), "ingest", layerDescs(t, img)[0].Digest.Hex+".partial")
	if err := unix.Mkfifo(partial, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := s.WriteImage(ctx, testRef, img, WriteOptions{Fetch: reg.fetch})
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("WriteImage over a FIFO partial = %v, want it refused at once", err)
	}
}

// TestOpenHugeLayoutFile: a damaged oci-layout of a megabyte is refused without being read
// whole.
func TestOpenHugeLayoutFile(t *testing.T) {
	dir := t.TempDir()
	openStore(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), bytes.Repeat([]byte("{"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrInvalidLayout) || !errors.Is(err, ErrTooLarge) {
		t.Errorf("Open(huge oci-layout) = %v, want ErrInvalidLayout and ErrTooLarge", err)
	}
}

// storedImage writes img into a new store and returns the store and img's manifest.
func storedImage(t *testing.T, img v1.Image) (*Store, *v1.Manifest) {
	t.Helper()
	reg := newFakeRegistry(t, img)
	s := openStore(t, t.TempDir())
	if _, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: reg.fetch}); err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

// damageBlob flips the byte at offset of the stored blob at path, keeping its size.
func damageBlob(t *testing.T, path string, offset int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[offset] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
