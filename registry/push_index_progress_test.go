package registry

import (
	"context"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// TestPushIndexProgress: a push of an index (a multi-platform image) reports its layers as a
// push of one image does, each layer once, though two platforms share it: it reported none,
// and `strata push` of such an image printed no line between "The push refers to" and the
// digest, where docker prints each layer.
func TestPushIndexProgress(t *testing.T) {
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
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: first, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: second, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	for _, tc := range []struct {
		tag  string
		want map[PushStatus]int
	}{
		{"1", map[PushStatus]int{PushPreparing: 3, PushPushing: 3, PushPushed: 3}},
		{"2", map[PushStatus]int{PushPreparing: 3, PushExists: 3}},
	} {
		var mu sync.Mutex
		got := map[PushStatus]int{}
		perLayer := map[v1.Hash][]PushStatus{}
		opts := testOptions()
		opts.PushProgress = func(e PushEvent) {
			mu.Lock()
			defer mu.Unlock()
			got[e.Status]++
			perLayer[e.Digest] = append(perLayer[e.Digest], e.Status)
		}
		if err := PushIndex(context.Background(), mustRef(t, host+"/p/multi:"+tc.tag), idx, opts); err != nil {
			t.Fatalf("PushIndex = %v", err)
		}
		for _, s := range []PushStatus{PushPreparing, PushPushing, PushPushed, PushExists} {
			if got[s] != tc.want[s] {
				t.Errorf("push %s: %d %q events, want %d (per layer: %v)", tc.tag, got[s], s, tc.want[s], perLayer)
			}
		}
	}
}
