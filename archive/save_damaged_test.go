package archive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
)

// TestSaveDamagedBlob: a blob damaged on disk after it was stored (a flipped byte, a file cut
// short or grown) fails the save in every format, naming the image and the blob, and its
// bytes never reach the archive whole. Save copied it as stored and succeeded: the archive
// failed only where it was loaded. The store discards the damaged file, so a pull repairs it.
func TestSaveDamagedBlob(t *testing.T) {
	damages := []struct {
		name string
		do   func(b []byte) []byte
		want error
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }, cache.ErrDigestMismatch},
		{"last byte flipped", func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }, cache.ErrDigestMismatch},
		{"cut short", func(b []byte) []byte { return b[:len(b)-1] }, cache.ErrSizeMismatch},
		{"grown", func(b []byte) []byte { return append(b, '\n') }, cache.ErrSizeMismatch},
	}
	// alpine's layer is app:1's too: the first image saved that has the blob is named.
	kinds := []struct {
		name  string
		pick  func(m *v1.Manifest) v1.Descriptor
		owner string
	}{
		{"layer", func(m *v1.Manifest) v1.Descriptor { return m.Layers[len(m.Layers)-1] }, "app:1"},
		{"config", func(m *v1.Manifest) v1.Descriptor { return m.Config }, "alpine:3.20.3"},
	}
	formats := []Format{DockerArchive, OCIArchive, OCIDir}
	for _, k := range kinds {
		for _, dm := range damages {
			for _, f := range formats {
				t.Run(k.name+"/"+dm.name+"/"+string(f), func(t *testing.T) {
					s := newStore(t)
					img := alpine(t)
					first := put(t, s, "docker.io/library/app:1", onAlpine(t, 512))
					second := put(t, s, "docker.io/library/alpine:3.20.3", img)
					m, err := img.Manifest()
					if err != nil {
						t.Fatal(err)
					}
					d := k.pick(m)
					p := filepath.Join(s.Dir(), "blobs", "sha256", d.Digest.Hex)
					orig, err := os.ReadFile(p)
					if err != nil {
						t.Fatal(err)
					}
					bad := dm.do(append([]byte(nil), orig...))
					if err := os.WriteFile(p, bad, 0o644); err != nil {
						t.Fatal(err)
					}
					refs := []cache.Ref{first, second}
					var out bytes.Buffer
					if f == OCIDir {
						dir := filepath.Join(t.TempDir(), "out")
						err = SaveDir(context.Background(), dir, s, refs, SaveOptions{})
						if _, serr := os.Stat(dir); serr == nil {
							t.Errorf("SaveDir left %s behind", dir)
						}
					} else {
						err = Save(context.Background(), &out, s, refs, SaveOptions{Format: f})
					}
					if !errors.Is(err, dm.want) {
						t.Fatalf("save of a damaged %s = %v, want %v", k.name, err, dm.want)
					}
					msg := err.Error()
					for _, want := range []string{k.owner, "damaged", short(d.Digest), "pull the image again"} {
						if !strings.Contains(msg, want) {
							t.Errorf("error %q does not say %q", msg, want)
						}
					}
					if strings.Contains(msg, "\n") {
						t.Errorf("error %q is more than one line", msg)
					}
					// A file cut short is a prefix of the blob, its entry in the stream left
					// unfinished; other damage is caught before its last bytes.
					if len(bad) >= len(orig) {
						if bytes.Contains(out.Bytes(), bad) {
							t.Error("the damaged blob reached the archive whole")
						}
					}
					if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("the damaged blob is still in the store: %v", err)
					}
				})
			}
		}
	}
}

// TestSaveVerifiesIntactBlobs: the check passes blobs that are whole, in every format, and
// a save of them loads.
func TestSaveVerifiesIntactBlobs(t *testing.T) {
	s := newStore(t)
	ref := put(t, s, "docker.io/library/alpine:3.20.3", alpine(t))
	for _, f := range []Format{DockerArchive, OCIArchive} {
		b := save(t, s, f, ref)
		dst := newStore(t)
		if _, err := Load(context.Background(), dst, bytes.NewReader(b), LoadOptions{}); err != nil {
			t.Errorf("load of the %s = %v", f, err)
		}
	}
	if err := SaveDir(context.Background(), filepath.Join(t.TempDir(), "out"), s, []cache.Ref{ref}, SaveOptions{}); err != nil {
		t.Errorf("SaveDir = %v", err)
	}
}
