// Command imagegen builds strata's deterministic benchmark images and pushes them to a
// registry on loopback, then writes images.json describing every image and layer for
// bench/run.sh (the curl baseline fetches blobs by digest from it) and the report (the ideal
// disk growth of the layer-sharing measurement is computed from it).
//
// The images, all linux/amd64 OCI with fixed configs and times, so digests never change:
//
//	bench/alpine:3.20.3     the upstream minirootfs tarball as its single layer
//	bench/debian:bookworm   a debootstrap minbase packed by run.sh as one gzip layer
//	bench/app:0 … app:9     debian plus one unique 4 MiB incompressible layer each
//	bench/layers:N          alpine plus N-1 small layers (four 4 KiB files each)
//	bench/multi:latest      eight layers of 250 files of 48 KiB, about 96 MiB unpacked
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func main() {
	registry := flag.String("registry", "", "registry host:port to push to over plain HTTP (required)")
	alpine := flag.String("alpine", "", "alpine minirootfs .tar.gz (required)")
	debian := flag.String("debian", "", "packed debootstrap .tar.gz; empty skips debian and the app images")
	apps := flag.Int("apps", 10, "number of app images sharing the debian layer")
	layerCounts := flag.String("layers", "1,10,50,120", "comma-separated layer counts of the bench/layers images")
	multi := flag.Bool("multi", true, "build the ~100 MB multi-layer image")
	out := flag.String("out", "images.json", "where to write the description of the pushed images")
	flag.Parse()
	if err := run(context.Background(), *registry, *alpine, *debian, *apps, *layerCounts, *multi, *out); err != nil {
		fmt.Fprintln(os.Stderr, "imagegen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, registry, alpine, debian string, apps int, layerCounts string, multi bool, out string) error {
	if registry == "" || alpine == "" {
		return fmt.Errorf("-registry and -alpine are required")
	}
	counts, err := parseCounts(layerCounts)
	if err != nil {
		return err
	}
	specs, err := specs(alpine, debian, apps, counts, multi)
	if err != nil {
		return err
	}
	known := map[v1.Hash]Layer{}
	var images []Image
	for _, s := range specs {
		img, err := build(s)
		if err != nil {
			return fmt.Errorf("building %s: %w", s.Name, err)
		}
		desc, err := push(ctx, registry, s, img, known)
		if err != nil {
			return err
		}
		images = append(images, desc)
	}
	b, err := json.MarshalIndent(images, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding images: %w", err)
	}
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}

// parseCounts reads "1,10,50,120"; each count must be between 1 and 500.
func parseCounts(s string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 500 {
			return nil, fmt.Errorf("layer count %q: want an integer from 1 to 500", f)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// specs lists every image to build, in push order: bases before the images that share them.
func specs(alpine, debian string, apps int, counts []int, multi bool) ([]spec, error) {
	base, err := layerFromFile(alpine)
	if err != nil {
		return nil, fmt.Errorf("alpine: %w", err)
	}
	out := []spec{{Name: "alpine", Repo: "bench/alpine", Tag: "3.20.3", Layers: []v1.Layer{base}}}
	if debian != "" {
		deb, err := layerFromFile(debian)
		if err != nil {
			return nil, fmt.Errorf("debian: %w", err)
		}
		out = append(out, spec{Name: "debian", Repo: "bench/debian", Tag: "bookworm", Layers: []v1.Layer{deb}})
		for i := range apps {
			l, err := blobLayer(appLayer(i))
			if err != nil {
				return nil, fmt.Errorf("app layer %d: %w", i, err)
			}
			out = append(out, spec{Name: fmt.Sprintf("app%d", i), Repo: "bench/app", Tag: strconv.Itoa(i), Layers: []v1.Layer{deb, l}})
		}
	}
	maxCount := 0
	for _, n := range counts {
		maxCount = max(maxCount, n)
	}
	small := []v1.Layer{base}
	for i := 1; i < maxCount; i++ {
		l, err := blobLayer(smallLayer(i))
		if err != nil {
			return nil, fmt.Errorf("small layer %d: %w", i, err)
		}
		small = append(small, l)
	}
	for _, n := range counts {
		out = append(out, spec{Name: fmt.Sprintf("layers%d", n), Repo: "bench/layers", Tag: strconv.Itoa(n), Layers: small[:n]})
	}
	if multi {
		var ls []v1.Layer
		for i := range 8 {
			l, err := blobLayer(multiLayer(i))
			if err != nil {
				return nil, fmt.Errorf("multi layer %d: %w", i, err)
			}
			ls = append(ls, l)
		}
		out = append(out, spec{Name: "multi", Repo: "bench/multi", Tag: "latest", Layers: ls})
	}
	return out, nil
}

// blobLayer turns a generator's result into a layer.
func blobLayer(blob []byte, err error) (v1.Layer, error) {
	if err != nil {
		return nil, err
	}
	return layerFromBlob(blob)
}
