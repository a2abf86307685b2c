package registry

import (
	"context"
	"slices"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// TestPushProgress pushes an image, then one that shares its layers plus one more: the
// shared layers are reported as already there and only the new one is uploaded.
func TestPushProgress(t *testing.T) {
	host := serve(t, nil)
	first := randomImage(t)
	extra, err := random.Layer(512, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	second, err := mutate.AppendLayers(first, extra)
	if err != nil {
		t.Fatal(err)
	}
	newLayer, _ := extra.Digest()

	for _, tc := range []struct {
		ref    string
		img    v1.Image
		want   map[PushStatus]int
		pushed []v1.Hash
	}{
		{host + "/p/one:1", first, map[PushStatus]int{PushPreparing: 2, PushPushing: 2, PushPushed: 2}, nil},
		{host + "/p/one:2", second, map[PushStatus]int{PushPreparing: 3, PushExists: 2, PushPushing: 1, PushPushed: 1}, []v1.Hash{newLayer}},
	} {
		var mu sync.Mutex
		got := map[PushStatus]int{}
		var pushed []v1.Hash
		opts := testOptions()
		opts.PushProgress = func(e PushEvent) {
			mu.Lock()
			defer mu.Unlock()
			got[e.Status]++
			if e.Status == PushPushed {
				pushed = append(pushed, e.Digest)
			}
		}
		ref := mustRef(t, tc.ref)
		if err := Push(context.Background(), ref, tc.img, opts); err != nil {
			t.Fatalf("Push(%s) = %v", ref, err)
		}
		for _, s := range []PushStatus{PushPreparing, PushPushing, PushPushed, PushExists} {
			if got[s] != tc.want[s] {
				t.Errorf("Push(%s): %d %q events, want %d (all: %v)", ref, got[s], s, tc.want[s], got)
			}
		}
		if tc.pushed != nil && !slices.Equal(pushed, tc.pushed) {
			t.Errorf("Push(%s) uploaded %v, want only %v", ref, pushed, tc.pushed)
		}
		p, err := NewPuller(testOptions())
		if err != nil {
			t.Fatal(err)
		}
		img, err := p.Image(context.Background(), ref)
		if err != nil {
			t.Fatalf("Image(%s) after Push = %v", ref, err)
		}
		if want := digestOf(t, tc.img); img.Descriptor.Digest != want {
			t.Errorf("pulled %s as %s, want the pushed digest %s", ref, img.Descriptor.Digest, want)
		}
	}
}

func TestPushStatusString(t *testing.T) {
	for s, want := range map[PushStatus]string{PushPreparing: "Preparing", PushExists: "Layer already exists", PushStatus(99): "unknown"} {
		if got := s.String(); got != want {
			t.Errorf("PushStatus(%d).String() = %q, want %q", s, got, want)
		}
	}
}
