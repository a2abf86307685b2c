package archive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestSaveUnnamedWritesNoName: an image saved by ID (a dangling one: its ref has no name)
// gets no name annotation in index.json, as docker save <ID> writes none, not an empty one.
func TestSaveUnnamedWritesNoName(t *testing.T) {
	s := newStore(t)
	ref := put(t, s, "docker.io/library/alpine:3.20.3", alpine(t))
	ref.Name = ""
	for _, f := range []Format{DockerArchive, OCIArchive} {
		b := save(t, s, f, ref)
		tr := tar.NewReader(bytes.NewReader(b))
		found := false
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Name != "index.json" {
				continue
			}
			found = true
			var idx v1.IndexManifest
			if err := json.NewDecoder(tr).Decode(&idx); err != nil {
				t.Fatal(err)
			}
			for _, m := range idx.Manifests {
				for k, v := range m.Annotations {
					if (k == containerdNameAnnotation || k == refNameAnnotation) && v == "" {
						t.Errorf("%s: index.json names the image %s=%q", f, k, v)
					}
				}
			}
		}
		if !found {
			t.Errorf("%s: no index.json", f)
		}
	}
}
