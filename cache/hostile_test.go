package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// lyingImage is a v1.Image whose manifest or config bytes were replaced, as a hostile or
// broken registry would serve them.
type lyingImage struct {
	v1.Image
	manifest []byte
	config   []byte
}

func (l *lyingImage) RawManifest() ([]byte, error) {
	if l.manifest != nil {
		return l.manifest, nil
	}
	return l.Image.RawManifest()
}

func (l *lyingImage) RawConfigFile() ([]byte, error) {
	if l.config != nil {
		return l.config, nil
	}
	return l.Image.RawConfigFile()
}

func TestWriteImageHostile(t *testing.T) {
	img := imageOf(t, seededLayers(t, 70, 2, 1024)...)
	reg := newFakeRegistry(t, img)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m *v1.Manifest)) []byte {
		c := m.DeepCopy()
		f(c)
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		img     v1.Image
		wantErr error
	}{
		{"layer digest with a path", &lyingImage{Image: img, manifest: edit(func(m *v1.Manifest) {
			m.Layers[0].Digest = v1.Hash{Algorithm: "sha256", Hex: "../../../../../../etc/passwd"}
		})}, nil},
		{"config digest not sha256", &lyingImage{Image: img, manifest: edit(func(m *v1.Manifest) {
			m.Config.Digest = v1.Hash{Algorithm: "md5", Hex: "00"}
		})}, nil},
		{"layer size lies", &lyingImage{Image: img, manifest: edit(func(m *v1.Manifest) {
			m.Layers[1].Size += 10
		})}, ErrSizeMismatch}, // the blob ends whole before that size: see TestBlobShorterThanItsSize
		{"more layers than diff ids", &lyingImage{Image: img, manifest: edit(func(m *v1.Manifest) {
			m.Layers = append(m.Layers, m.Layers[0])
		})}, nil},
		{"config bytes do not match", &lyingImage{Image: img, config: []byte(`{"rootfs":{"type":"layers","diff_ids":["sha256:` + m.Layers[0].Digest.Hex + `","sha256:` + m.Layers[1].Digest.Hex + `"]}}`)}, ErrSizeMismatch},
		{"config null", configOnly(img, edit, []byte(`null`)), nil},
		{"config without rootfs", configOnly(img, edit, []byte(`{"os":"linux","architecture":"amd64"}`)), nil},
		{"rootfs of another type", configOnly(img, edit, []byte(`{"os":"linux","rootfs":{"type":"layers+base","diff_ids":[]}}`)), nil},
		{"manifest not json", &lyingImage{Image: img, manifest: []byte("<html>")}, nil},
		{"manifest that lists manifests too", &lyingImage{Image: img, manifest: append(bytes.TrimSuffix(edit(func(*v1.Manifest) {}), []byte("}")), []byte(`,"manifests":[]}`)...)}, nil},
		{"manifest with trailing data", &lyingImage{Image: img, manifest: append(edit(func(*v1.Manifest) {}), []byte("{}")...)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			_, err := s.WriteImage(context.Background(), testRef, tt.img, WriteOptions{Fetch: reg.fetch, Retries: 1})
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("WriteImage(%s) = %v, want an error (%v)", tt.name, err, tt.wantErr)
			}
			if _, err := s.Resolve(testRef); !errors.Is(err, ErrNotFound) {
				t.Errorf("Resolve after WriteImage(%s) failed = %v, want ErrNotFound: nothing tagged", tt.name, err)
			}
			checkBlobsHashToNames(t, s)
		})
	}
}

// configOnly is an image of no layers with config as its config, well addressed: only what
// the config says can refuse it.
func configOnly(img v1.Image, edit func(func(*v1.Manifest)) []byte, config []byte) v1.Image {
	sum := sha256.Sum256(config)
	return &lyingImage{Image: img, config: config, manifest: edit(func(m *v1.Manifest) {
		m.Config.Digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
		m.Config.Size = int64(len(config))
		m.Layers = []v1.Descriptor{}
	})}
}
