package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// spec is one benchmark image before it is built: a repository:tag and its layers, base first.
type spec struct {
	Name   string // the key run.sh uses: alpine, debian, app0…app9, layers1…, multi
	Repo   string // bench/alpine
	Tag    string
	Layers []v1.Layer
}

// Layer describes one pushed layer: what the curl baseline fetches and what the sharing
// measurement counts as the ideal growth.
type Layer struct {
	Digest string `json:"digest"`
	DiffID string `json:"diffID"`
	Size   int64  `json:"size"`
	// Unpacked is the disk an ideal store needs for the layer's files: regular files rounded up
	// to 4 KiB blocks plus one 4 KiB block per directory; inodes are not counted.
	Unpacked int64 `json:"unpacked"`
	Entries  int   `json:"entries"`
}

// Image is one line of the images.json that run.sh and the report read.
type Image struct {
	Name      string  `json:"name"`
	Ref       string  `json:"ref"`
	Repo      string  `json:"repo"`
	Tag       string  `json:"tag"`
	Manifest  string  `json:"manifest"`
	MediaType string  `json:"mediaType"`
	Config    string  `json:"config"`
	Layers    []Layer `json:"layers"`
}

// build assembles the OCI image of s with a fixed config: the usual alpine-style PATH and
// /bin/sh command, every time set to epoch.
func build(s spec) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(s.Layers))
	for i, l := range s.Layers {
		adds = append(adds, mutate.Addendum{
			Layer:     l,
			MediaType: types.OCILayer,
			History:   v1.History{Created: v1.Time{Time: epoch}, CreatedBy: fmt.Sprintf("strata bench imagegen %s layer %d", s.Name, i)},
		})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("appending layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = "amd64"
	cf.OS = "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.Cmd = []string{"/bin/sh"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting config: %w", err)
	}
	return img, nil
}

// push writes img to registry/repo:tag over plain HTTP and describes what it wrote.
func push(ctx context.Context, registry string, s spec, img v1.Image, known map[v1.Hash]Layer) (Image, error) {
	ref, err := name.NewTag(registry+"/"+s.Repo+":"+s.Tag, name.Insecure)
	if err != nil {
		return Image{}, fmt.Errorf("parsing reference: %w", err)
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return Image{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	out := Image{Name: s.Name, Ref: ref.String(), Repo: s.Repo, Tag: s.Tag}
	d, err := img.Digest()
	if err != nil {
		return Image{}, fmt.Errorf("digest of %s: %w", ref, err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return Image{}, fmt.Errorf("media type of %s: %w", ref, err)
	}
	cn, err := img.ConfigName()
	if err != nil {
		return Image{}, fmt.Errorf("config of %s: %w", ref, err)
	}
	out.Manifest, out.MediaType, out.Config = d.String(), string(mt), cn.String()
	layers, err := img.Layers()
	if err != nil {
		return Image{}, fmt.Errorf("layers of %s: %w", ref, err)
	}
	for _, l := range layers {
		dl, err := describe(l, known)
		if err != nil {
			return Image{}, fmt.Errorf("describing a layer of %s: %w", ref, err)
		}
		out.Layers = append(out.Layers, dl)
	}
	return out, nil
}

// describe measures a layer once; images that share it reuse the answer through known.
func describe(l v1.Layer, known map[v1.Hash]Layer) (Layer, error) {
	d, err := l.Digest()
	if err != nil {
		return Layer{}, fmt.Errorf("digest: %w", err)
	}
	if dl, ok := known[d]; ok {
		return dl, nil
	}
	diffID, err := l.DiffID()
	if err != nil {
		return Layer{}, fmt.Errorf("diffID of %s: %w", d, err)
	}
	size, err := l.Size()
	if err != nil {
		return Layer{}, fmt.Errorf("size of %s: %w", d, err)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return Layer{}, fmt.Errorf("opening %s: %w", d, err)
	}
	unpacked, entries, err := unpackedSize(rc)
	err = errors.Join(err, rc.Close())
	if err != nil {
		return Layer{}, fmt.Errorf("reading %s: %w", d, err)
	}
	dl := Layer{Digest: d.String(), DiffID: diffID.String(), Size: size, Unpacked: unpacked, Entries: entries}
	known[d] = dl
	return dl, nil
}

// unpackedSize walks a tar stream and returns the ideal disk usage of its entries (see
// Layer.Unpacked) and how many there are. Hard links cost no blocks of their own.
func unpackedSize(r io.Reader) (int64, int, error) {
	const block = 4096
	var total int64
	var n int
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return total, n, nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("entry %d: %w", n, err)
		}
		n++
		switch hdr.Typeflag {
		case tar.TypeReg:
			total += (hdr.Size + block - 1) / block * block
		case tar.TypeDir:
			total += block
		default:
			// Hard links, short symlinks (stored in the inode) and devices take no data block.
		}
	}
}
