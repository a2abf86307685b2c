// Package testimages builds the images strata's tests, demo and benchmarks serve, from the
// upstream fixtures in testdata/: alpine exactly as Docker Hub serves it (one gzip layer that is
// the minirootfs tarball's own bytes, Cmd ["/bin/sh"], the usual PATH, an index of amd64 and
// arm64), and the official busybox OCI layout as it is.
package testimages

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// AlpineVersion is the alpine release whose amd64 and arm64 minirootfs testdata holds.
const AlpineVersion = "3.20.3"

// alpineCreated is the build date of the upstream alpine:3.20.3 image; a fixed date keeps the
// built image's digests the same on every machine.
var alpineCreated = time.Date(2024, 9, 6, 12, 5, 36, 0, time.UTC)

// DefaultPath is the PATH that Docker Hub's alpine image sets.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Dir returns the repository's testdata directory, found by walking up from the working
// directory (tests run in their package's directory), or $STRATA_TESTDATA when set.
func Dir() (string, error) {
	if d := os.Getenv("STRATA_TESTDATA"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "testdata", "alpine", "SHA256SUMS")); err == nil {
			return filepath.Join(d, "testdata"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("testdata/alpine not found above %s (set STRATA_TESTDATA)", wd)
		}
	}
}

// alpineArch maps a Go architecture to the minirootfs file's architecture and the platform.
var alpineArch = map[string]struct {
	file     string
	platform v1.Platform
}{
	"amd64": {"x86_64", v1.Platform{OS: "linux", Architecture: "amd64"}},
	"arm64": {"aarch64", v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
}

// AlpineImage builds alpine:version for one architecture ("amd64" or "arm64") from the
// minirootfs tarball in testdata.
func AlpineImage(testdata, version, arch string) (v1.Image, error) {
	a, ok := alpineArch[arch]
	if !ok {
		return nil, fmt.Errorf("no alpine minirootfs for architecture %q", arch)
	}
	file := fmt.Sprintf("alpine-minirootfs-%s-%s.tar.gz", version, a.file)
	return RootfsImage(filepath.Join(testdata, "alpine", file), a.platform, alpineCreated)
}

// RootfsImage builds a one-layer image as `FROM scratch; ADD tarball /; CMD ["/bin/sh"]` does,
// keeping the gzip tarball's own bytes as the layer blob.
func RootfsImage(tarballPath string, platform v1.Platform, created time.Time) (v1.Image, error) {
	if _, err := os.Stat(tarballPath); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromFile(tarballPath, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", tarballPath, err)
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "ADD " + filepath.Base(tarballPath) + " / # buildkit",
			Comment:   "buildkit.dockerfile.v0",
		},
	})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture = platform.Architecture
	cfg.Variant = platform.Variant
	cfg.OS = platform.OS
	cfg.Created = v1.Time{Time: created}
	cfg.Config.Env = []string{DefaultPath}
	cfg.Config.Cmd = []string{"/bin/sh"}
	cfg.History = append(cfg.History, v1.History{
		Created:    v1.Time{Time: created},
		CreatedBy:  `CMD ["/bin/sh"]`,
		Comment:    "buildkit.dockerfile.v0",
		EmptyLayer: true,
	})
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	return mutate.ConfigMediaType(img, types.OCIConfigJSON), nil
}

// AlpineIndex builds the multi-platform alpine:version index (amd64 and arm64) as Docker Hub
// serves it.
func AlpineIndex(testdata, version string) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := AlpineImage(testdata, version, arch)
		if err != nil {
			return nil, err
		}
		p := alpineArch[arch].platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	return idx, nil
}

// HostArch is the architecture strata pulls by default.
func HostArch() string { return runtime.GOARCH }

// Busybox opens the official busybox 1.38.0 (musl) OCI layout from testdata as an index.
func Busybox(testdata string) (v1.ImageIndex, error) {
	p, err := layout.FromPath(filepath.Join(testdata, "busybox", "busybox-1.38.0-musl-oci"))
	if err != nil {
		return nil, err
	}
	return p.ImageIndex()
}
