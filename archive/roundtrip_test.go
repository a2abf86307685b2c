package archive

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/strata-run/strata/cache"
)

// TestRoundTrip saves images in each format and loads them into a fresh store: the refs must
// name the same manifest digests and every blob must be byte for byte the same.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := newStore(t)
	if _, err := LoadDir(ctx, src, busyboxDir(t), LoadOptions{}); err != nil {
		t.Fatalf("LoadDir(busybox) = %v", err)
	}
	put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	put(t, src, "127.0.0.1:5000/app:1", onAlpine(t, 4096))
	refs, err := src.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 3 {
		t.Fatalf("List() = %d refs, want 3", len(refs))
	}
	for _, format := range []Format{DockerArchive, OCIArchive, OCIDir} {
		t.Run(string(format), func(t *testing.T) {
			dst := newStore(t)
			var got []Loaded
			var err error
			if format == OCIDir {
				dir := filepath.Join(t.TempDir(), "layout")
				if err := SaveDir(ctx, dir, src, refs, SaveOptions{}); err != nil {
					t.Fatalf("SaveDir() = %v", err)
				}
				got, err = LoadDir(ctx, dst, dir, LoadOptions{})
			} else {
				got, err = Load(ctx, dst, bytes.NewReader(save(t, src, format, refs...)), LoadOptions{})
			}
			if err != nil {
				t.Fatalf("load = %v", err)
			}
			if len(got) != len(refs) {
				t.Fatalf("loaded %d images, want %d", len(got), len(refs))
			}
			for _, r := range refs {
				d, err := dst.Resolve(r.Name)
				if err != nil {
					t.Fatalf("Resolve(%q) after load = %v", r.Name, err)
				}
				if d.Digest != r.Descriptor.Digest {
					t.Errorf("Resolve(%q) = %s, want %s", r.Name, d.Digest, r.Descriptor.Digest)
				}
			}
			if a, b := storedBlobs(t, src), storedBlobs(t, dst); !slices.Equal(a, b) {
				t.Errorf("blobs after load = %v, want %v", b, a)
			}
			for _, name := range storedBlobs(t, src) {
				a, _ := os.ReadFile(filepath.Join(src.Dir(), "blobs", "sha256", name))
				b, _ := os.ReadFile(filepath.Join(dst.Dir(), "blobs", "sha256", name))
				if !bytes.Equal(a, b) {
					t.Errorf("blob %s differs after the round trip", name)
				}
			}
		})
	}
}

// TestLoadBusyboxLayout loads the upstream layout: its index.json names the image
// "busybox:1.38.0-musl" in the spec annotation, which becomes the full ref.
func TestLoadBusyboxLayout(t *testing.T) {
	s := newStore(t)
	got, err := LoadDir(context.Background(), s, busyboxDir(t), LoadOptions{})
	if err != nil {
		t.Fatalf("LoadDir() = %v", err)
	}
	want := "docker.io/library/busybox:1.38.0-musl"
	if len(got) != 1 || got[0].Ref != want {
		t.Fatalf("LoadDir() = %+v, want one image %s", got, want)
	}
	if got[0].Manifest.Digest.Hex != "a34ce92094b7b100a98fbd21411a92825f6827b1bc5f6918c253516c90556998" {
		t.Errorf("manifest digest = %s, want the layout's", got[0].Manifest.Digest)
	}
	info, err := s.Info(cache.Ref{Name: want, Descriptor: got[0].Manifest})
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != got[0].ID {
		t.Errorf("Loaded.ID = %s, store says %s", got[0].ID, info.ID)
	}
}

// TestSharedBase saves ten images built on one base: the base layer is in the archive once,
// so the archive is the base plus the ten small deltas, as the acceptance asks.
func TestSharedBase(t *testing.T) {
	s := newStore(t)
	base := put(t, s, "docker.io/library/alpine:3.20.3", alpine(t))
	var refs []cache.Ref
	for i := range 10 {
		refs = append(refs, put(t, s, fmt.Sprintf("example.com/app%d:1", i), onAlpine(t, 2048)))
	}
	baseInfo, err := s.Info(base)
	if err != nil {
		t.Fatal(err)
	}
	var deltas int64 // each image's own layer, config and manifest
	for _, r := range refs {
		info, err := s.Info(r)
		if err != nil {
			t.Fatal(err)
		}
		deltas += info.Size - baseInfo.Layers[0].Size + r.Descriptor.Size
	}
	for _, format := range []Format{DockerArchive, OCIArchive} {
		t.Run(string(format), func(t *testing.T) {
			one := int64(len(save(t, s, format, base)))
			all := save(t, s, format, refs...)
			seen := map[string]int{}
			for _, e := range readTar(t, all) {
				seen[e.hdr.Name]++
				if seen[e.hdr.Name] > 1 {
					t.Errorf("entry %s written %d times", e.hdr.Name, seen[e.hdr.Name])
				}
			}
			// Tar headers and padding cost up to 1.5 KiB a blob, and the index and
			// manifest.json grow with the images: allow that, never a second base.
			extra := int64(len(all)) - one
			if slack := int64(10*3*1536 + 10*1024); extra > deltas+slack {
				t.Errorf("archive of 10 images is %d bytes over the base's archive; their deltas are %d (base layer %d)", extra, deltas, baseInfo.Layers[0].Size)
			}
			dst := newStore(t)
			if _, err := Load(context.Background(), dst, bytes.NewReader(all), LoadOptions{}); err != nil {
				t.Fatalf("Load() = %v", err)
			}
			// alpine's layer, then each image's layer, config and manifest.
			if n := len(storedBlobs(t, dst)); n != 1+10*3 {
				t.Errorf("store after load has %d blobs, want %d", n, 1+10*3)
			}
		})
	}
}

// TestProgress: Save reports each blob it writes; Load each entry it reads, each blob it
// stores (or finds stored) and each ref it tags.
func TestProgress(t *testing.T) {
	ctx := context.Background()
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	var saved []Event
	var buf bytes.Buffer
	if err := Save(ctx, &buf, src, []cache.Ref{ref}, SaveOptions{Progress: func(e Event) { saved = append(saved, e) }}); err != nil {
		t.Fatal(err)
	}
	if len(saved) != 3 {
		t.Errorf("Save reported %d events, want 3 (layer, config, manifest): %v", len(saved), saved)
	}
	count := func(events []Event) map[EventKind]int {
		n := map[EventKind]int{}
		for _, e := range events {
			n[e.Kind]++
		}
		return n
	}
	dst := newStore(t)
	for i, want := range []map[EventKind]int{
		// oci-layout, index.json, manifest.json and three blobs read; three stored; one tag.
		{Read: 6, Stored: 3, Tagged: 1},
		// The second time every blob is in the store already: not even staged.
		{Read: 6, Exists: 3, Tagged: 1},
	} {
		var loaded []Event
		if _, err := Load(ctx, dst, bytes.NewReader(buf.Bytes()), LoadOptions{Progress: func(e Event) { loaded = append(loaded, e) }}); err != nil {
			t.Fatal(err)
		}
		got := count(loaded)
		for k, n := range want {
			if got[k] != n {
				t.Errorf("load %d: %d %s events, want %d", i+1, got[k], k, n)
			}
		}
	}
}
