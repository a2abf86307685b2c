package testimages

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// WriteLayout writes the fixture images into an OCI image layout at dir, named by the
// io.containerd.image.name annotation as `docker save` and `skopeo copy oci:` name them:
// docker.io/library/alpine:latest and :3.20.3 (the two-platform index) and
// docker.io/library/busybox:1.38.0-musl. `strata load -i dir` reads it.
func WriteLayout(testdata, dir string) error {
	alpine, err := AlpineIndex(testdata, AlpineVersion)
	if err != nil {
		return err
	}
	bb, err := Busybox(testdata)
	if err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("writing layout %s: %w", dir, err)
	}
	for _, e := range []struct {
		name string
		idx  v1.ImageIndex
	}{
		{"docker.io/library/alpine:latest", alpine},
		{"docker.io/library/alpine:" + AlpineVersion, alpine},
		{"docker.io/library/busybox:1.38.0-musl", bb},
	} {
		if err := p.AppendIndex(e.idx, layout.WithAnnotations(map[string]string{
			"io.containerd.image.name":          e.name,
			"org.opencontainers.image.ref.name": e.name,
		})); err != nil {
			return fmt.Errorf("writing %s to %s: %w", e.name, dir, err)
		}
	}
	return nil
}
