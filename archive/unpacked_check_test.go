package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// TestLoadChecksUnpackedLayers: an archive whose config names, as one of its layers, the
// DiffID of a layer unpacked here already, with a blob that is not that layer. Runs use the
// layer dir here, not the archive's blob, so the image ran on a layer it did not bring (one
// whose DiffID it had only to know), and was saved again with its own blob. The load checks
// such a layer's blob before storing anything, and is refused; a stored image pairing the
// blob with the DiffID (the same base loaded again, an image on it) spares the check.
func TestLoadChecksUnpackedLayers(t *testing.T) {
	ctx := context.Background()
	base := alpine(t)
	baseLayers, err := base.Layers()
	if err != nil {
		t.Fatal(err)
	}
	baseDiffID, err := baseLayers[0].DiffID()
	if err != nil {
		t.Fatal(err)
	}
	baseBlob, err := baseLayers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	// The hostile image: a random blob listed as alpine's layer.
	l, err := random.Layer(1024, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	evil, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := evil.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.RootFS.DiffIDs[1] = baseDiffID
	if evil, err = mutate.ConfigFile(evil, cfg); err != nil {
		t.Fatal(err)
	}
	src := newStore(t)
	evilArchive := save(t, src, DockerArchive, put(t, src, "example.com/evil:1", evil))
	honestArchive := save(t, src, DockerArchive, put(t, src, "example.com/honest:1", onAlpine(t, 1024)))

	s := newStore(t)
	put(t, s, "docker.io/library/alpine:3.20.3", base)
	var checked []v1.Hash
	opts := LoadOptions{
		Unpacked: func(d v1.Hash) bool { return d == baseDiffID },
		CheckLayer: func(ctx context.Context, layer v1.Descriptor, diffID v1.Hash, r io.Reader) error {
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			checked = append(checked, layer.Digest)
			sum := sha256.Sum256(b)
			if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}); got != baseBlob {
				return errors.New("not the layer unpacked")
			}
			return nil
		},
	}
	before := storedBlobs(t, s)
	if _, err := Load(ctx, s, bytes.NewReader(evilArchive), opts); err == nil {
		t.Fatal("an archive naming another blob as a layer unpacked here was loaded")
	}
	if len(checked) != 1 {
		t.Errorf("layers checked = %v, want the one named with the unpacked DiffID", checked)
	}
	if _, err := s.Resolve("example.com/evil:1"); err == nil {
		t.Error("the refused image is tagged")
	}
	if after := storedBlobs(t, s); !slices.Equal(before, after) {
		t.Errorf("blobs after a refused load = %v, want %v as before", after, before)
	}
	checked = nil
	if _, err := Load(ctx, s, bytes.NewReader(honestArchive), opts); err != nil {
		t.Fatalf("loading an image on the stored base: %v", err)
	}
	if len(checked) != 0 {
		t.Errorf("layers checked for an image whose base a stored image pairs = %v, want none", checked)
	}
}
