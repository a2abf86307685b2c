package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

func TestOpenCreatesAndValidatesLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	s := openStore(t, dir)
	for _, p := range []string{"oci-layout", "index.json", "blobs/sha256", "ingest"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("after Open(%q): %v", dir, err)
		}
	}
	desc := v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: hashOf([]byte("m")), Size: 1}
	if err := s.Tag("example.com/a:1", desc); err != nil {
		t.Fatal(err)
	}
	// Reopening must keep the index another Open (or process) already wrote.
	s2 := openStore(t, dir)
	if _, err := s2.Resolve("example.com/a:1"); err != nil {
		t.Errorf("Resolve after reopen = %v, want the tag kept", err)
	}

	tests := []struct {
		name   string
		layout string
	}{
		{"wrong version", `{"imageLayoutVersion":"2.0.0"}`},
		{"not json", `oci`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(tt.layout), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(dir); !errors.Is(err, ErrInvalidLayout) {
				t.Errorf("Open(layout %s) = %v, want ErrInvalidLayout", tt.layout, err)
			}
		})
	}
}

func hashOf(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func TestWriteBlob(t *testing.T) {
	content := []byte("hello, blob")
	good := v1.Descriptor{Digest: hashOf(content), Size: int64(len(content))}
	tests := []struct {
		name    string
		desc    v1.Descriptor
		data    []byte
		wantErr error
	}{
		{"verified", good, content, nil},
		{"digest mismatch", good, []byte("hello, blub"), ErrDigestMismatch},
		{"too short", good, content[:5], ErrSizeMismatch},
		{"too long", good, append(append([]byte{}, content...), '!'), ErrSizeMismatch},
		{"size says less", v1.Descriptor{Digest: good.Digest, Size: 3}, content, ErrSizeMismatch},
		{"not sha256", v1.Descriptor{Digest: v1.Hash{Algorithm: "md5", Hex: "abc"}, Size: 11}, content, ErrInvalidDigest},
		{"path in digest", v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: "../../../../etc/passwd"}, Size: 11}, content, ErrInvalidDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			err := s.WriteBlob(context.Background(), tt.desc, bytes.NewReader(tt.data))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("WriteBlob(%s) = %v, want %v", tt.name, err, tt.wantErr)
			}
			if got := s.HasBlob(tt.desc.Digest); got != (tt.wantErr == nil) {
				t.Errorf("HasBlob after WriteBlob(%s) = %v, want %v", tt.name, got, tt.wantErr == nil)
			}
			checkBlobsHashToNames(t, s)
			checkIngestEmpty(t, s)
			if tt.wantErr == nil {
				got, err := s.ReadBlob(tt.desc.Digest, 100)
				if err != nil || !bytes.Equal(got, tt.data) {
					t.Errorf("ReadBlob = %q, %v, want %q", got, err, tt.data)
				}
				if _, err := s.ReadBlob(tt.desc.Digest, 3); !errors.Is(err, ErrTooLarge) {
					t.Errorf("ReadBlob(max 3) = %v, want ErrTooLarge", err)
				}
				// Writing it again succeeds without reading: another writer won.
				if err := s.WriteBlob(context.Background(), tt.desc, errReader{}); err != nil {
					t.Errorf("WriteBlob of a stored blob = %v, want nil", err)
				}
			}
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("must not be read") }

func TestOpenBlobMissing(t *testing.T) {
	s := openStore(t, t.TempDir())
	if _, err := s.OpenBlob(hashOf([]byte("absent"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenBlob(absent) = %v, want ErrNotFound", err)
	}
	if p := s.BlobPath(v1.Hash{Algorithm: "sha256", Hex: "../x"}); p != "" {
		t.Errorf("BlobPath(../x) = %q, want \"\"", p)
	}
}

// checkBlobsHashToNames reads every stored blob and checks it hashes to its file name.
func checkBlobsHashToNames(t *testing.T, s *Store) {
	t.Helper()
	dir := filepath.Join(s.Dir(), "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if got := hashOf(b).Hex; got != e.Name() {
			t.Errorf("blob %s hashes to %s", e.Name(), got)
		}
	}
}

// checkIngestEmpty checks that no temp, partial or lock file was left behind.
func checkIngestEmpty(t *testing.T, s *Store) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.Dir(), "ingest"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("ingest/%s left behind", e.Name())
	}
}

func TestTagConcurrent(t *testing.T) {
	dir := t.TempDir()
	openStore(t, dir)
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() {
			// A Store per goroutine, as separate processes would have.
			s, err := Open(dir)
			if err != nil {
				errs <- err
				return
			}
			desc := v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: hashOf([]byte{byte(i)}), Size: 1}
			errs <- s.Tag(refName(i), desc)
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Tag = %v", err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("index.json after %d concurrent Tags is not valid JSON: %v", n, err)
	}
	refs, err := openStore(t, dir).List()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range refs {
		names[r.Name] = true
	}
	for i := range n {
		if !names[refName(i)] {
			t.Errorf("List() lacks %s after concurrent Tags", refName(i))
		}
	}
	if len(refs) != n {
		t.Errorf("List() has %d refs, want %d", len(refs), n)
	}
}

func refName(i int) string { return "example.com/img:" + string(rune('a'+i)) }

func TestTagReplaceAndUntag(t *testing.T) {
	s := openStore(t, t.TempDir())
	d1 := v1.Descriptor{Digest: hashOf([]byte("1")), Size: 1}
	d2 := v1.Descriptor{Digest: hashOf([]byte("2")), Size: 1}
	const ref = "example.com/a:latest"
	for _, d := range []v1.Descriptor{d1, d2} {
		if err := s.Tag(ref, d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Resolve(ref)
	if err != nil || got.Digest != d2.Digest {
		t.Errorf("Resolve(%q) = %v, %v, want %v", ref, got.Digest, err, d2.Digest)
	}
	if refs, _ := s.List(); len(refs) != 1 {
		t.Errorf("List() after retag = %d refs, want 1", len(refs))
	}
	if err := s.Untag(ref); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ref); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve after Untag = %v, want ErrNotFound", err)
	}
	if err := s.Untag(ref); !errors.Is(err, ErrNotFound) {
		t.Errorf("Untag twice = %v, want ErrNotFound", err)
	}
	if err := s.Tag("bad ref", d1); err == nil {
		t.Errorf("Tag(%q) = nil, want an error", "bad ref")
	}
}

// TestEmptyIndexIsMarshalled: the index.json a new store starts with is what json.Marshal
// makes of an empty v1.IndexManifest, which is what the rest of the store writes.
func TestEmptyIndexIsMarshalled(t *testing.T) {
	want, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json", Manifests: []v1.Descriptor{}})
	if err != nil {
		t.Fatal(err)
	}
	if emptyIndex != string(want) {
		t.Errorf("emptyIndex = %s, want %s", emptyIndex, want)
	}
}

// TestTagKeepsIndexReadable: a tag that would make index.json larger than the store reads
// back (too many refs, or a descriptor carrying megabytes) is refused, and the store still
// opens: written, it would make every later command, rmi included, fail on the store.
func TestTagKeepsIndexReadable(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	d := v1.Descriptor{Digest: hashOf([]byte("1")), Size: 1, Annotations: map[string]string{"pad": strings.Repeat("x", maxSmallBlob)}}
	if err := s.Tag("example.com/a:1", d); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Tag() of a descriptor of %d MiB = %v, want ErrTooLarge", maxSmallBlob>>20, err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatalf("Open() after the refused tag = %v", err)
	}
	if refs, err := s2.List(); err != nil || len(refs) != 0 {
		t.Errorf("List() = %v, %v, want no refs", refs, err)
	}
}

// TestSHA512DigestSaidUnsupported: a well-formed sha512 digest, which the OCI spec registers,
// is refused as one strata does not store, not as a malformed digest.
func TestSHA512DigestSaidUnsupported(t *testing.T) {
	s := openStore(t, t.TempDir())
	h := v1.Hash{Algorithm: "sha512", Hex: strings.Repeat("ab", 64)}
	err := s.WriteBlob(context.Background(), v1.Descriptor{Digest: h, Size: 1}, bytes.NewReader([]byte("x")))
	if !errors.Is(err, ErrInvalidDigest) || !strings.Contains(err.Error(), "strata stores sha256 blobs only") {
		t.Errorf("WriteBlob(sha512) = %v; want ErrInvalidDigest saying strata stores sha256 only", err)
	}
	bad := v1.Hash{Algorithm: "sha512", Hex: "xyz"}
	if err := s.WriteBlob(context.Background(), v1.Descriptor{Digest: bad, Size: 1}, bytes.NewReader([]byte("x"))); !errors.Is(err, ErrInvalidDigest) || strings.Contains(err.Error(), "sha256 blobs only") {
		t.Errorf("WriteBlob(sha512:xyz) = %v; want a plain invalid digest", err)
	}
}

// TestAmbiguousNameRefused: the store names no image in docker.io/library/sha256, as docker's
// reference store refuses it, and such a name written by another tool finds no image: the
// query is an ID.
func TestAmbiguousNameRefused(t *testing.T) {
	s := openStore(t, t.TempDir())
	d1 := v1.Descriptor{Digest: hashOf([]byte("1")), Size: 1}
	d2 := v1.Descriptor{Digest: hashOf([]byte("2")), Size: 1}
	spoof := "docker.io/library/sha256:" + d2.Digest.Hex
	for _, ref := range []string{spoof, "docker.io/library/sha256:x", "docker.io/library/sha256@" + d1.Digest.String()} {
		if err := s.Tag(ref, d1); !errors.Is(err, ErrAmbiguousName) {
			t.Errorf("Tag(%q) = %v, want ErrAmbiguousName", ref, err)
		}
	}
	// Pull, commit and import write through WriteImage and WriteIndex, refused before a blob.
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteImage(context.Background(), spoof, img, WriteOptions{}); !errors.Is(err, ErrAmbiguousName) {
		t.Errorf("WriteImage(%q) = %v, want ErrAmbiguousName", spoof, err)
	}
	idx, err := random.Index(64, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteIndex(context.Background(), spoof, idx, WriteOptions{}); !errors.Is(err, ErrAmbiguousName) {
		t.Errorf("WriteIndex(%q) = %v, want ErrAmbiguousName", spoof, err)
	}
	for _, ref := range []string{"example.com/sha256:x", "docker.io/someone/sha256:x", "docker.io/library/sha256x:1"} {
		if err := s.Tag(ref, d1); err != nil {
			t.Errorf("Tag(%q) = %v", ref, err)
		}
	}
	if err := s.Tag("example.com/b:1", d2); err != nil {
		t.Fatal(err)
	}
	// Written by another tool, normalized or as typed.
	for _, name := range []string{spoof, "sha256:" + d2.Digest.Hex, d2.Digest.Hex} {
		err := s.updateIndex(context.Background(), func(idx *v1.IndexManifest) error {
			d := d1
			d.Annotations = map[string]string{RefNameAnnotation: name}
			idx.Manifests = append([]v1.Descriptor{d}, idx.Manifests...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := s.FindImage(name); err == nil && r.Descriptor.Digest == d1.Digest {
			t.Errorf("FindImage(%q) found the image the name tags, %v", name, r.Descriptor.Digest)
		}
	}
	for _, id := range []string{"sha256:" + d2.Digest.Hex, d2.Digest.Hex} {
		if r, err := s.FindImage(id); err != nil || r.Descriptor.Digest != d2.Digest {
			t.Errorf("FindImage(%s) = %v, %v, want %v", id, r.Descriptor.Digest, err, d2.Digest)
		}
	}
}
