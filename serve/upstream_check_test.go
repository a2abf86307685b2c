package serve

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

// TestPullThroughChecked: the pulls of NewPullThroughChecked hand each layer to the check,
// with its DiffID, as the blob is stored (strata serve checks there a layer unpacked already
// to be that blob); a check that fails fails the pull, nothing tagged.
func TestPullThroughChecked(t *testing.T) {
	up := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(up.Close)
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	upRef, _ := name.ParseReference(up.Listener.Addr().String()+"/test/img:1", name.Insecure)
	if err := remote.Write(upRef, img); err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, fail := range []bool{false, true} {
		store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
		if err != nil {
			t.Fatal(err)
		}
		checked := map[v1.Hash]v1.Hash{}
		var mu sync.Mutex // the store fetches layers side by side
		check := func(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error {
			if _, err := io.Copy(io.Discard, r); err != nil {
				return err
			}
			mu.Lock()
			checked[desc.Digest] = diffID
			mu.Unlock()
			if fail {
				return errors.New("not the layer unpacked")
			}
			return nil
		}
		pull, err := NewPullThroughChecked(up.URL, store, registry.Options{}, check)
		if err != nil {
			t.Fatal(err)
		}
		err = pull(context.Background(), "test/img", "1")
		if fail {
			if err == nil {
				t.Error("pull-through with a failing check succeeded")
			}
			if _, err := store.Resolve(up.Listener.Addr().String() + "/test/img:1"); err == nil {
				t.Error("the image refused by the check is tagged")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			d, _ := l.Digest()
			diffID, _ := l.DiffID()
			if checked[d] != diffID {
				t.Errorf("layer %s checked as %s, want %s", d, checked[d], diffID)
			}
		}
	}
}

// TestPullThroughIndexChecked: a pull-through by the digest of an index stores every
// platform, and hands the check each platform's layers with their DiffIDs, not only this
// host's: a layer of another platform unpacked here already is checked to be the blob the
// index names for it, as a run of that platform would use the layer dir.
func TestPullThroughIndexChecked(t *testing.T) {
	up := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(up.Close)
	host := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	other := v1.Platform{OS: "linux", Architecture: "s390x"}
	if runtime.GOARCH == "s390x" {
		other.Architecture = "ppc64le"
	}
	var adds []mutate.IndexAddendum
	var imgs []v1.Image
	for _, p := range []v1.Platform{host, other} {
		img, err := random.Image(512, 2)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx := mutate.AppendManifests(empty.Index, adds...)
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	upRef, _ := name.ParseReference(up.Listener.Addr().String()+"/test/idx@"+d.String(), name.Insecure)
	if err := remote.WriteIndex(upRef, idx); err != nil {
		t.Fatal(err)
	}
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	checked := map[v1.Hash]v1.Hash{}
	var mu sync.Mutex
	check := func(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error {
		mu.Lock()
		checked[desc.Digest] = diffID
		mu.Unlock()
		return nil // the layer unpacked nowhere: left unread
	}
	pull, err := NewPullThroughChecked(up.URL, store, registry.Options{}, check)
	if err != nil {
		t.Fatal(err)
	}
	if err := pull(context.Background(), "test/idx", d.String()); err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs {
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			d, _ := l.Digest()
			diffID, _ := l.DiffID()
			if checked[d] != diffID {
				t.Errorf("layer %s checked as %s, want %s", d, checked[d], diffID)
			}
		}
	}
}
