// Package sharebench measures layer sharing as `strata bench share` reports it: it pulls
// images one after another into one strata root and, per image, records how long the pull
// took, how many bytes it downloaded, which of its layers were new and which the root already
// had, how much the root grew on disk, and how much it would have grown ideally.
//
// Terms: the root is a strata root (<root>/oci, <root>/snapshots, as docs/design.md lays it
// out). A layer is shared when its blob was in the root before the image's pull, new
// otherwise. The ideal growth of an image counts its new layers only, each once: the
// compressed blob (strata keeps it, as containerd does) plus the unpacked files, every
// regular file rounded up to the file system's block and one block per directory (the
// definition bench/imagegen uses for make bench). Manifests, configs and metadata are not in
// the ideal, so a ratio of actual to ideal growth a little above 1 is the store's overhead,
// and a ratio near 2 for a further image means a layer was stored twice.
package sharebench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
	"github.com/strata-run/strata/snapshotter"
)

// Options say where to pull and how. The zero value of every field but Root is a default.
type Options struct {
	// Root is the strata root the images are pulled into; it is created if missing. Images
	// already in it count: their layers are shared by the images pulled now.
	Root string
	// Registry configures the pulls: platform, mirrors, insecure hosts, credentials.
	Registry registry.Options
	// Snapshotter configures the layer store of the root (its driver, mostly).
	Snapshotter snapshotter.Options
	// Concurrency is how many layers download at once; 0 means 3, as `strata pull`.
	Concurrency int
	// Progress, if set, receives each image's row as soon as it is measured, so a command
	// can print a long run as it goes.
	Progress func(Row)
}

// Row is the measurement of one image of the sequence.
type Row struct {
	// Ref is the reference pulled, fully qualified.
	Ref string `json:"ref"`
	// Digest is the digest of the image's manifest for the platform pulled.
	Digest string `json:"digest"`
	// Seconds is the wall time of the pull: resolving the reference, downloading what the
	// root lacked, unpacking it and tagging the image. Opening the root is not in it, nor is
	// the start of a strata process, which a `time strata pull` would add.
	Seconds float64 `json:"seconds"`
	// Downloaded is the number of layer bytes fetched from the registry.
	Downloaded int64 `json:"downloaded"`
	// Layers is the number of distinct layers of the image; New and Shared split it.
	Layers int `json:"layers"`
	New    int `json:"new"`
	Shared int `json:"shared"`
	// Growth is how much the root's disk usage grew with this pull, in bytes.
	Growth int64 `json:"growth"`
	// Ideal is the growth of an ideal store: the new layers' blobs and unpacked files.
	Ideal int64 `json:"ideal"`
}

// Totals sums the rows. Ratio is Growth / Ideal, or 0 when Ideal is 0 (nothing was new).
type Totals struct {
	Seconds    float64 `json:"seconds"`
	Downloaded int64   `json:"downloaded"`
	Layers     int     `json:"layers"`
	New        int     `json:"new"`
	Shared     int     `json:"shared"`
	Growth     int64   `json:"growth"`
	Ideal      int64   `json:"ideal"`
	Ratio      float64 `json:"ratio"`
}

// Report is the whole measurement.
type Report struct {
	// Root is where the images went; Driver the snapshotter driver used there.
	Root   string `json:"root"`
	Driver string `json:"driver"`
	// BlockSize is the root's file system block, the unit of the ideal unpacked size.
	BlockSize int64  `json:"blockSize"`
	Images    []Row  `json:"images"`
	Totals    Totals `json:"totals"`
}

// add counts r into the totals.
func (t *Totals) add(r Row) {
	t.Seconds += r.Seconds
	t.Downloaded += r.Downloaded
	t.Layers += r.Layers
	t.New += r.New
	t.Shared += r.Shared
	t.Growth += r.Growth
	t.Ideal += r.Ideal
	t.Ratio = 0
	if t.Ideal > 0 {
		t.Ratio = float64(t.Growth) / float64(t.Ideal)
	}
}

// Run pulls refs in order into opts.Root and measures each pull. On an error it returns the
// report of the images measured so far with the error, which names the image.
func Run(ctx context.Context, refs []string, opts Options) (*Report, error) {
	if len(refs) == 0 {
		return nil, errors.New("no images to pull")
	}
	if opts.Root == "" {
		return nil, errors.New("no root to pull into")
	}
	parsed := make([]registry.Reference, len(refs))
	for i, r := range refs {
		ref, err := registry.ParseReference(r)
		if err != nil {
			return nil, err
		}
		parsed[i] = ref
	}
	store, err := cache.Open(filepath.Join(opts.Root, "oci"))
	if err != nil {
		return nil, fmt.Errorf("opening the image store: %w", err)
	}
	snap, err := snapshotter.New(filepath.Join(opts.Root, "snapshots"), opts.Snapshotter)
	if err != nil {
		return nil, fmt.Errorf("opening the layer store: %w", err)
	}
	puller, err := registry.NewPuller(opts.Registry)
	if err != nil {
		return nil, err
	}
	block, err := blockSize(opts.Root)
	if err != nil {
		return nil, err
	}
	rep := &Report{Root: opts.Root, Driver: string(snap.Driver()), BlockSize: block, Images: []Row{}}
	before, err := snapshotter.DirSize(opts.Root)
	if err != nil {
		return nil, err
	}
	p := &pull{store: store, snap: snap, puller: puller, concurrency: opts.Concurrency, block: block}
	for _, ref := range parsed {
		row, err := p.measure(ctx, ref)
		if err != nil {
			return rep, fmt.Errorf("pulling %s: %w", ref.Familiar(), err)
		}
		after, err := snapshotter.DirSize(opts.Root)
		if err != nil {
			return rep, err
		}
		row.Growth = after - before
		before = after
		rep.Images = append(rep.Images, row)
		rep.Totals.add(row)
		if opts.Progress != nil {
			opts.Progress(row)
		}
	}
	return rep, nil
}

// pull is what every image's measurement shares.
type pull struct {
	store       *cache.Store
	snap        *snapshotter.Snapshotter
	puller      *registry.Puller
	concurrency int
	block       int64
}

// measure pulls one image as `strata pull` does, timing it, then computes its ideal growth
// outside the timing (that reads the new blobs back from the store).
func (p *pull) measure(ctx context.Context, ref registry.Reference) (Row, error) {
	row := Row{Ref: ref.String()}
	start := time.Now()
	img, err := p.puller.Image(ctx, ref)
	if err != nil {
		return row, err
	}
	m, err := img.Manifest()
	if err != nil {
		return row, fmt.Errorf("reading the manifest: %w", err)
	}
	// Which layers the root has is decided before the download: during it, every layer is
	// being stored.
	var fresh []v1.Descriptor
	seen := map[v1.Hash]bool{}
	for _, l := range m.Layers {
		if seen[l.Digest] {
			continue
		}
		seen[l.Digest] = true
		if p.store.HasBlob(l.Digest) {
			row.Shared++
		} else {
			fresh = append(fresh, l)
		}
	}
	res, err := p.store.WriteImage(ctx, ref.String(), img, cache.WriteOptions{
		Concurrency: p.concurrency,
		Fetch:       img.FetchBlob,
		Layer:       p.unpack,
		NeedLayer:   func(d v1.Hash) bool { return !p.snap.Has(d) },
	})
	if err != nil {
		return row, err
	}
	row.Seconds = time.Since(start).Seconds()
	row.Digest = img.Descriptor.Digest.String()
	row.Downloaded = res.Bytes
	row.Layers = len(seen)
	row.New = len(fresh)
	for _, l := range fresh {
		n, err := p.unpackedSize(l)
		if err != nil {
			return row, err
		}
		row.Ideal += l.Size + n
	}
	return row, nil
}

// unpack hands a layer's stream, as it downloads, to the snapshotter: `strata pull`'s way.
func (p *pull) unpack(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error {
	return p.snap.Unpack(ctx, diffID, desc.MediaType, r)
}
