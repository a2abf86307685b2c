package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/freespace"
	"github.com/strata-run/strata/layers"
	"github.com/strata-run/strata/registry"
	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/snapshotter"
)

// layerFile is a gzip layer written to a temp file in the image store's dir (commit's and
// import's new layer), with its digests.
type layerFile struct {
	path   string
	temp   *cache.LayerTemp
	digest v1.Hash // of the gzip stream: the blob's
	diffID v1.Hash // of the tar
	size   int64
	empty  bool // a tar without entries: only its end
	mt     types.MediaType
}

// emptyTarSize is the length of a tar with no entries: two zero blocks.
const emptyTarSize = 1024

// countingHash hashes and counts what is written through it.
type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

// writeLayerFile writes the tar fill writes as a gzip layer of media type mt into a temp file
// in store's dir, held until remove (a killed writer's goes at the next writer's start). gzip's
// header carries no name and no time, so one tar makes one blob. The file is synced: the store
// renames a copy in, but the snapshotter unpacks from it first.
func writeLayerFile(store *cache.Store, mt types.MediaType, fill func(io.Writer) error) (_ *layerFile, err error) {
	temp, err := store.CreateLayerTemp()
	if err != nil {
		return nil, fmt.Errorf("creating the layer: %w", err)
	}
	f := temp.File
	lf := &layerFile{path: temp.Path, temp: temp, mt: mt}
	defer func() {
		if err != nil {
			lf.remove()
		}
	}()
	blob := &countingHash{h: sha256.New()}
	tarSum := &countingHash{h: sha256.New()}
	zw, err := gzip.NewWriterLevel(io.MultiWriter(&roomWriter{f: f}, blob), gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if err := fill(io.MultiWriter(zw, tarSum)); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}
	lf.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(blob.h.Sum(nil))}
	lf.diffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(tarSum.h.Sum(nil))}
	lf.size = blob.n
	lf.empty = tarSum.n == emptyTarSize
	return lf, nil
}

func (lf *layerFile) remove() { lf.temp.Remove() }

// roomWriter writes to f while its filesystem keeps the free space every write into a store
// keeps (freespace.Floor): a container's writable layer, or a tarball, as large as the disk
// stops there, not at ENOSPC, where the store's next index.json would fail.
type roomWriter struct {
	f     *os.File
	since int64 // bytes written since the last look
	every int64
}

func (r *roomWriter) Write(p []byte) (int, error) {
	if r.every == 0 || r.since >= r.every {
		var st unix.Statfs_t
		if err := unix.Fstatfs(int(r.f.Fd()), &st); err == nil {
			floor := freespace.OfBlocks(st.Blocks, int64(st.Bsize))
			r.every = freespace.CheckInterval(floor)
			if free := int64(st.Bavail) * int64(st.Bsize); free-int64(len(p)) < floor {
				return 0, fmt.Errorf("%w: %d bytes free, less than the %d the store keeps", unix.ENOSPC, free, floor)
			}
		} else {
			r.every = freespace.MaxCheckInterval
		}
		r.since = 0
	}
	n, err := r.f.Write(p)
	r.since += int64(n)
	return n, err
}

// maxLayerSize is the bound on a new layer's tar: STRATA_MAX_LAYER_SIZE's, as for a pulled
// layer (openSnapshotter checks its value), else layers.DefaultMaxSize.
func maxLayerSize() int64 {
	if n, err := strconv.ParseInt(os.Getenv("STRATA_MAX_LAYER_SIZE"), 10, 64); err == nil && n > 0 {
		return n
	}
	return layers.DefaultMaxSize
}

// unpack puts the layer into the snapshotter, through the checks every pulled layer passes
// (layers.Apply: no path out of the layer, bounded size): an import's hostile tar stops here,
// before anything reaches the image store. The blob, hashed as this process wrote it, is
// recorded as the layer, so the first run of the new image does not decompress it again.
func (lf *layerFile) unpack(ctx context.Context, snap *snapshotter.Snapshotter) error {
	f, err := os.Open(lf.path)
	if err != nil {
		return err
	}
	defer f.Close()
	return snap.UnpackBlob(ctx, lf.diffID, v1.Descriptor{MediaType: lf.mt, Digest: lf.digest, Size: lf.size}, f)
}

// fileLayer is a layerFile as go-containerregistry's v1.Layer.
type fileLayer struct{ lf *layerFile }

func (l fileLayer) Digest() (v1.Hash, error)            { return l.lf.digest, nil }
func (l fileLayer) DiffID() (v1.Hash, error)            { return l.lf.diffID, nil }
func (l fileLayer) Size() (int64, error)                { return l.lf.size, nil }
func (l fileLayer) MediaType() (types.MediaType, error) { return l.lf.mt, nil }
func (l fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.lf.path) }
func (l fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.lf.path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return readCloser{zr, func() error { return errors.Join(zr.Close(), f.Close()) }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

// newImageRef is the name commit and import give their image: "" for none (a dangling image,
// as docker's), else the full reference, which may not be a digest.
func newImageRef(arg string) (string, error) {
	if arg == "" {
		return "", nil
	}
	ref, err := registry.ParseReference(arg)
	if err != nil {
		return "", err
	}
	if ref.Digest() != "" {
		return "", fmt.Errorf("refusing to create a tag with a digest reference: %s", arg)
	}
	// What the store would refuse once the image is made ("sha256:x" reads as an image ID)
	// is refused before the tarball or the container is read, as docker's client refuses a
	// name: the layer was unpacked and its blob stored for nothing.
	if err := cache.CheckRef(ref.String()); err != nil {
		return "", fmt.Errorf("%w: %s", err, quoteArg(arg))
	}
	return ref.String(), nil
}

// tagEvent logs the tag event of a new image (commit, import) stored under ref ("" for none),
// as docker's daemon tags it, and returns ref as docker names it ("" for none).
func tagEvent(g *globals, id v1.Hash, ref string) string {
	if ref == "" {
		return ""
	}
	familiar := ref
	if r, err := registry.ParseReference(ref); err == nil {
		familiar = r.Familiar()
	}
	imageEvent(g, "tag", id.String(), familiar)
	return familiar
}

// storeNewImage writes img (whose layers are stored but for the new one, unpacked already)
// under ref ("" for none) and returns its ID. A layer the snapshotter lost meanwhile (a
// prune) is unpacked again as it is stored.
func storeNewImage(ctx context.Context, store *cache.Store, snap *snapshotter.Snapshotter, ref string, img v1.Image) (v1.Hash, error) {
	unpack := unpackInto(snap)
	wo := cache.WriteOptions{
		// The layers are strata's own, the new one made from the dir its DiffID names: not
		// checked again against that dir, as a pulled blob is (a commit of gigabytes would
		// decompress them all once more).
		Layer: func(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error {
			if snap.Has(diffID) {
				_, err := io.Copy(io.Discard, r)
				return err
			}
			return unpack(ctx, desc, diffID, r)
		},
		NeedLayer: func(d v1.Hash) bool { return !snap.Has(d) },
		Untagged:  ref == "",
	}
	res, err := store.WriteImage(ctx, ref, img, wo)
	if err != nil {
		return v1.Hash{}, err
	}
	return res.ID, nil
}

// withHealthcheck is img with its config's Healthcheck h, whole: go-containerregistry's
// HealthConfig has no StartInterval (HEALTHCHECK --start-interval, --health-start-interval),
// which docker commit keeps in the image it writes. img is returned as it is when h has none.
func withHealthcheck(img v1.Image, h *runner.HealthConfig) (v1.Image, error) {
	if h == nil || h.StartInterval == 0 {
		return img, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	type config struct {
		v1.Config
		Healthcheck *runner.HealthConfig `json:",omitempty"`
	}
	raw, err := json.Marshal(struct {
		*v1.ConfigFile
		Config config `json:"config"`
	}{cf, config{cf.Config, h}})
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	m = m.DeepCopy()
	sum := sha256.Sum256(raw)
	m.Config.Digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	m.Config.Size = int64(len(raw))
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &rawConfigImage{Image: img, config: raw, manifest: m, rawManifest: rawManifest}, nil
}

// rawConfigImage is an image whose config is raw bytes of strata's making, its manifest
// naming them; its layers are the image's it wraps.
type rawConfigImage struct {
	v1.Image
	config      []byte
	manifest    *v1.Manifest
	rawManifest []byte
}

func (i *rawConfigImage) RawConfigFile() ([]byte, error) { return i.config, nil }
func (i *rawConfigImage) ConfigName() (v1.Hash, error)   { return i.manifest.Config.Digest, nil }
func (i *rawConfigImage) Manifest() (*v1.Manifest, error) {
	return i.manifest.DeepCopy(), nil
}
func (i *rawConfigImage) RawManifest() ([]byte, error) { return i.rawManifest, nil }
func (i *rawConfigImage) Size() (int64, error)         { return int64(len(i.rawManifest)), nil }

func (i *rawConfigImage) ConfigFile() (*v1.ConfigFile, error) {
	return v1.ParseConfigFile(bytes.NewReader(i.config))
}

func (i *rawConfigImage) Digest() (v1.Hash, error) {
	sum := sha256.Sum256(i.rawManifest)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}, nil
}
