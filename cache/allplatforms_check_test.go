package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestIndexOtherPlatformsChecked: WriteIndex handed Layer the layers of this host's platform
// only, so a platform of the index that is not this host's could name any blob (new bytes, a
// stored config, another image's layer) with the DiffID of a layer unpacked here, and was
// stored with it: `run --platform` of it used the layer dir, and save and push wrote the
// other blob as that layer. Every platform's layer whose DiffID is unpacked here is checked
// now, as the host's is, unless a stored image pairs the two; a layer of another platform
// not unpacked here is left alone (nothing unpacks another platform), and one blob named with
// two DiffIDs by two platforms is refused.
func TestIndexOtherPlatformsChecked(t *testing.T) {
	blobs := map[v1.Hash][]byte{}
	add := func(b []byte) v1.Hash {
		d := digestOf(b)
		blobs[d] = b
		return d
	}
	host, other, third, garbage := add([]byte("host layer's tar")), add([]byte("other layer's tar")), add([]byte("third layer's tar")), add([]byte("random bytes"))
	diffHost, diffOther, diffThird := digestOf([]byte("host unpacked")), digestOf([]byte("other unpacked")), digestOf([]byte("third unpacked"))
	// The one true pairing of each blob, as a snapshotter computes it.
	truth := map[v1.Hash]v1.Hash{host: diffHost, other: diffOther, third: diffThird}
	fetch := func(ctx context.Context, h v1.Hash, off int64) (io.ReadCloser, error) {
		b, ok := blobs[h]
		if !ok {
			return nil, ErrNotFound
		}
		return io.NopCloser(bytes.NewReader(b[off:])), nil
	}
	layer := func(d v1.Hash) string {
		return fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}`, d, len(blobs[d]))
	}
	imageWith := func(arch string, d, diffID v1.Hash) v1.Image {
		cfg, err := json.Marshal(v1.ConfigFile{OS: "linux", Architecture: arch, RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}}})
		if err != nil {
			t.Fatal(err)
		}
		return rawImageOf(t, manifestOf(cfg, layer(d)), cfg)
	}
	s390x := v1.Platform{OS: "linux", Architecture: "s390x"}
	indexOf := func(hostImg, otherImg v1.Image) v1.ImageIndex {
		return mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: hostImg, Descriptor: v1.Descriptor{Platform: &amd64}},
			mutate.IndexAddendum{Add: otherImg, Descriptor: v1.Descriptor{Platform: &s390x}})
	}
	ctx := context.Background()

	type state struct {
		s        *Store
		mu       sync.Mutex
		unpacked map[v1.Hash]bool
		given    []v1.Hash // the blobs Layer got, in order
		extract  map[v1.Hash]bool
		opts     WriteOptions
	}
	setup := func(t *testing.T) *state {
		st := &state{s: openStore(t, t.TempDir()), unpacked: map[v1.Hash]bool{}, extract: map[v1.Hash]bool{}}
		check := func(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error {
			if _, err := io.ReadAll(r); err != nil {
				return err
			}
			st.mu.Lock()
			defer st.mu.Unlock()
			st.given = append(st.given, desc.Digest)
			if truth[desc.Digest] != diffID {
				return fmt.Errorf("%w: blob %s is not layer %s", ErrDigestMismatch, short(desc.Digest), short(diffID))
			}
			st.unpacked[diffID] = true
			return nil
		}
		st.opts = WriteOptions{Fetch: fetch, Layer: check, Platform: amd64, NeedLayer: func(d v1.Hash) bool {
			st.mu.Lock()
			defer st.mu.Unlock()
			return !st.unpacked[d]
		}, Progress: func(e Event) {
			st.mu.Lock()
			defer st.mu.Unlock()
			if e.Kind == Extracting {
				st.extract[e.Digest] = true
			}
		}}
		return st
	}
	// The honest image of the other layer, pulled for this host: its layer unpacked here.
	pullOther := func(t *testing.T, st *state) {
		if _, err := st.s.WriteImage(ctx, "example.com/other:1", imageWith("amd64", other, diffOther), st.opts); err != nil {
			t.Fatal(err)
		}
		st.given = nil
	}

	tests := []struct {
		name    string
		prepare func(t *testing.T, st *state)
		idx     v1.ImageIndex
		wantErr error
		given   []v1.Hash // blobs Layer gets (in any order)
	}{
		{"new bytes named for a layer unpacked here", pullOther,
			indexOf(imageWith("amd64", host, diffHost), imageWith("s390x", garbage, diffOther)), ErrDigestMismatch, nil},
		{"a stored blob named for a layer unpacked here", func(t *testing.T, st *state) {
			pullOther(t, st)
			if _, err := st.s.WriteImage(ctx, "example.com/host:1", imageWith("amd64", host, diffHost), st.opts); err != nil {
				t.Fatal(err)
			}
			st.given = nil
		}, indexOf(imageWith("amd64", third, diffThird), imageWith("s390x", host, diffOther)), ErrDigestMismatch, nil},
		{"the true layer, not paired yet", func(t *testing.T, st *state) {
			st.unpacked[diffOther] = true // unpacked by a run of an image stored since removed
		}, indexOf(imageWith("amd64", host, diffHost), imageWith("s390x", other, diffOther)), nil, []v1.Hash{host, other}},
		{"the true layer, paired by a stored image", pullOther,
			indexOf(imageWith("amd64", host, diffHost), imageWith("s390x", other, diffOther)), nil, []v1.Hash{host}},
		{"new bytes named for a layer not unpacked here", nil,
			indexOf(imageWith("amd64", host, diffHost), imageWith("s390x", garbage, diffOther)), nil, []v1.Hash{host}},
		{"one blob named with two DiffIDs by two platforms", nil,
			indexOf(imageWith("amd64", host, diffHost), imageWith("s390x", host, diffOther)), ErrDigestMismatch, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := setup(t)
			if tt.prepare != nil {
				tt.prepare(t, st)
			}
			clear(st.extract)
			_, err := st.s.WriteIndex(ctx, testRef, tt.idx, st.opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("WriteIndex = %v, want %v", err, tt.wantErr)
				}
				if _, err := st.s.Resolve(testRef); !errors.Is(err, ErrNotFound) {
					t.Errorf("Resolve after a refused write = %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("WriteIndex = %v", err)
			}
			slices.SortFunc(st.given, func(a, b v1.Hash) int { return bytes.Compare([]byte(a.Hex), []byte(b.Hex)) })
			want := slices.Clone(tt.given)
			slices.SortFunc(want, func(a, b v1.Hash) int { return bytes.Compare([]byte(a.Hex), []byte(b.Hex)) })
			if !slices.Equal(st.given, want) {
				t.Errorf("blobs given to Layer = %v, want %v", st.given, want)
			}
			// Checked or not, another platform's layer is not extracted, and the progress
			// says so ("Download complete").
			for _, d := range []v1.Hash{other, garbage} {
				if st.extract[d] {
					t.Errorf("Extracting shown for %s, a layer of another platform", short(d))
				}
			}
		})
	}
}
