package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/internal/ctxio"
	"github.com/strata-run/strata/internal/imageconfig"
)

// Fetcher returns the blob h starting at byte offset (an HTTP Range request), so that a
// download can resume. It must return exactly the bytes from offset on, or an error.
type Fetcher func(ctx context.Context, h v1.Hash, offset int64) (io.ReadCloser, error)

// LayerFunc consumes one layer's compressed stream. It must read r to EOF or return an
// error: the stream only ends with EOF after the blob's digest was verified, and a digest
// mismatch or failed download ends it with that error instead, so a LayerFunc that commits
// its work only after EOF never commits unverified content.
type LayerFunc func(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error

// WriteOptions tune WriteImage. The zero value is valid.
type WriteOptions struct {
	// Concurrency is how many layers are downloaded at once; 0 means 3.
	Concurrency int
	// Fetch fetches a blob from an offset, so that downloads resume where they stopped. If nil,
	// img.LayerByDigest(h).Compressed() is used and a resume re-reads and skips the prefix.
	Fetch Fetcher
	// Layer, if set, receives each downloaded layer's compressed stream while it downloads
	// (when resuming, the bytes already in the .partial file are replayed first). For layers
	// already stored, it is called with the blob from disk when NeedLayer says so.
	Layer LayerFunc
	// NeedLayer says whether Layer must be called for a layer whose blob is already stored,
	// for example because its unpacked dir is missing. nil means never.
	NeedLayer func(diffID v1.Hash) bool
	// Progress, if set, receives Events. It is called from several goroutines at once (one
	// per layer being downloaded), so it must be safe for concurrent use; it should return
	// quickly, as it runs on the download path.
	Progress func(Event)
	// Retries is how many times a download is resumed after a dropped connection before
	// WriteImage gives up; 0 means 5. Attempts that bring at least 64 KiB do not count, but
	// no blob is fetched more than 100 times in all.
	Retries int
	// Annotations are kept on ref's descriptor in index.json, beside the ref name: what the
	// caller must remember about how the image was pulled (the digest the tag pointed at,
	// for one, so the next pull can tell with one request that nothing changed).
	Annotations map[string]string
	// Platform picks, for WriteIndex, the image of the index whose layers go to Layer (and
	// NeedLayer): the one that will run here. The other platforms' blobs are stored, and
	// Layer gets one only when NeedLayer is set and says its DiffID is unpacked already, to
	// check it is that layer (never to unpack it). Zero means linux on this binary's
	// architecture. WriteImage ignores it.
	Platform v1.Platform
	// Untagged stores the image under no ref (ref must be ""): a dangling image, as docker
	// commit and import make one when given no name. WriteIndex ignores it.
	Untagged bool

	// Proven, if set, says which stored blob is known to be the layer of a DiffID (the
	// layer store's proofs, snapshotter.Proven): a stored blob whose DiffID is unpacked
	// already is spared its check only when Proven says so. Unset, a stored image pairing
	// the two spares it (layerPairs), which vouches for no more than that image's store
	// checked it: one stored while the DiffID was not unpacked was checked against nothing.
	Proven func(blob, diffID v1.Hash) bool

	// paired is the write's view of which stored blob is which layer (see layerPairs); set
	// by writeLayers.
	paired *layerPairs
	// checkOnly says Layer only checks the layer (another platform's, see checkOnly):
	// nothing is extracted, and the progress says so.
	checkOnly bool
}

// layerPairs says whether a stored image lists a blob as the layer of a DiffID: a pairing
// that a pull of that image checked when it unpacked the layer (or, for a blob stored by a
// load, one the archive gave). A blob stored and a layer dir made are each known good on
// their own; that the one is the other is not, unless an image pairs them. The store's images
// are read once per write, when a layer first needs it.
type layerPairs struct {
	once  sync.Once
	pairs map[[2]v1.Hash]bool
}

// has reports whether a stored image lists blob as the layer of diffID.
func (p *layerPairs) has(s *Store, blob, diffID v1.Hash) bool {
	p.once.Do(func() {
		p.pairs = map[[2]v1.Hash]bool{}
		// Unreadable images pair nothing: their layers are then checked, not trusted.
		infos, _ := s.Infos()
		for _, info := range infos {
			if info.Damaged != nil {
				continue
			}
			for i, l := range info.Layers {
				if i < len(info.Config.RootFS.DiffIDs) {
					p.pairs[[2]v1.Hash{l.Digest, info.Config.RootFS.DiffIDs[i]}] = true
				}
			}
		}
	})
	return p.pairs[[2]v1.Hash{blob, diffID}]
}

// WriteResult says what WriteImage did, for "Downloaded newer image" versus "Image is up to date".
type WriteResult struct {
	// Manifest is the descriptor ref now names.
	Manifest v1.Descriptor
	// ID is the image ID: the digest of its config blob.
	ID v1.Hash
	// Downloaded is true when any blob (layer, config or manifest) was newly stored.
	Downloaded bool
	// Bytes counts the bytes fetched for layers; bytes resumed from .partial files are not
	// fetched again and are not counted.
	Bytes int64
	// Previous is what ref named before, or nil if it was new.
	Previous *v1.Descriptor
	// Updated is true when ref names a different manifest than before (or did not exist),
	// even if every blob was already stored: docker says "Downloaded newer image" then too.
	Updated bool
}

// WriteImage stores img's layers, config and manifest, then makes ref name it. Blobs already
// stored are not downloaded again. Layers download at once, up to Concurrency, each through
// ingest/<hex>.partial, which is kept on error or kill so the next WriteImage resumes it with
// Fetch(offset); a digest mismatch deletes the partial and fails. The manifest is written and
// tagged last, so a reader never sees an image whose blobs are missing. Two processes writing
// overlapping images both succeed and each blob is downloaded once.
func (s *Store) WriteImage(ctx context.Context, ref string, img v1.Image, opts WriteOptions) (res WriteResult, err error) {
	res, err = s.writeImage(ctx, ref, img, opts)
	if err != nil {
		// No ref: the caller names the image it pulls or loads, once.
		return res, fmt.Errorf("writing image: %w", err)
	}
	return res, nil
}

func (s *Store) writeImage(ctx context.Context, ref string, img v1.Image, opts WriteOptions) (res WriteResult, err error) {
	if opts.Untagged && ref != "" {
		return res, fmt.Errorf("an untagged image with ref %q", ref)
	}
	if err := checkRef(ref); err != nil && !opts.Untagged {
		return res, namedRefErr(ref, err)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 3
	}
	if opts.Retries <= 0 {
		opts.Retries = 5
	}
	if opts.Fetch == nil {
		opts.Fetch = imageFetcher(img)
	}

	rawManifest, err := img.RawManifest()
	if err != nil {
		return res, fmt.Errorf("reading manifest: %w", err)
	}
	if len(rawManifest) > maxSmallBlob {
		return res, fmt.Errorf("reading manifest: %w: more than %d bytes", ErrTooLarge, maxSmallBlob)
	}
	sum := sha256.Sum256(rawManifest)
	mt, err := img.MediaType()
	if err != nil {
		return res, fmt.Errorf("reading manifest media type: %w", err)
	}
	mdesc := v1.Descriptor{
		MediaType: mt,
		Digest:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		Size:      int64(len(rawManifest)),
	}
	var m v1.Manifest
	if err := parseBlob(rawManifest, &m); err != nil {
		return res, fmt.Errorf("parsing manifest %s: %w", short(mdesc.Digest), err)
	}
	if listsManifests(rawManifest, &m) {
		return res, fmt.Errorf("manifest %s is an index, not an image", short(mdesc.Digest))
	}
	if err := checkHash(m.Config.Digest); err != nil {
		return res, fmt.Errorf("manifest %s: config: %w", short(mdesc.Digest), err)
	}
	// A config already in the store is read from there: a second pull of an image fetches
	// no blob at all.
	rawConfig, err := s.storedOr(m.Config, img.RawConfigFile)
	if err != nil {
		return res, fmt.Errorf("reading config %s: %w", short(m.Config.Digest), err)
	}
	var cfg v1.ConfigFile
	if err := parseBlob(rawConfig, &cfg); err != nil {
		return res, fmt.Errorf("parsing config %s: %w", short(m.Config.Digest), err)
	}
	if err := imageconfig.CheckRootFS(rawConfig); err != nil {
		return res, fmt.Errorf("config %s: %w", short(m.Config.Digest), err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return res, fmt.Errorf("manifest %s has %d layers but its config %d diff ids", short(mdesc.Digest), len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	res.Manifest = mdesc
	res.ID = m.Config.Digest

	// Held until the tag is written: Prune would otherwise see the new blobs as garbage.
	gc, err := s.lockGC(ctx, false)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, gc.Unlock()) }()

	var jobs []layerJob
	for i, l := range m.Layers {
		jobs = append(jobs, layerJob{desc: l, diffID: cfg.RootFS.DiffIDs[i], unpack: true})
	}
	stored, fetched, err := s.writeLayers(ctx, jobs, opts)
	res.Bytes = fetched
	res.Downloaded = stored
	if err != nil {
		return res, err
	}
	wrote, err := s.writeBlob(ctx, m.Config, bytes.NewReader(rawConfig))
	if err != nil {
		return res, fmt.Errorf("writing config %s: %w", short(m.Config.Digest), err)
	}
	res.Downloaded = res.Downloaded || wrote
	wrote, err = s.writeBlob(ctx, mdesc, bytes.NewReader(rawManifest))
	if err != nil {
		return res, fmt.Errorf("writing manifest %s: %w", short(mdesc.Digest), err)
	}
	res.Downloaded = res.Downloaded || wrote
	if len(opts.Annotations) > 0 {
		mdesc.Annotations = opts.Annotations
	}
	if opts.Untagged {
		res.Updated = true
		return res, nil
	}
	res.Previous, err = s.tag(ctx, ref, mdesc)
	if err != nil {
		return res, fmt.Errorf("tagging: %w", err)
	}
	res.Updated = res.Previous == nil || res.Previous.Digest != mdesc.Digest
	return res, nil
}

// layerJob is one layer blob to store; unpack says whether the Layer callback consumes it
// (for an index, only the layers of the platform being unpacked). check, for a layer of
// another platform of an index, says Layer gets it only when its DiffID is unpacked here
// already (NeedLayer false), to check the blob is that layer: nothing else of another
// platform is unpacked.
type layerJob struct {
	desc   v1.Descriptor
	diffID v1.Hash
	unpack bool
	check  bool
}

// named says whether the job pairs its blob with a DiffID.
func (j layerJob) named() bool { return j.unpack || j.check }

// writeLayers stores every missing layer, up to opts.Concurrency at once. The first failure
// cancels the others; their partial files stay for the next attempt.
func (s *Store) writeLayers(ctx context.Context, layers []layerJob, opts WriteOptions) (stored bool, fetched int64, err error) {
	opts.Layer = recoverLayer(opts.Layer)
	// Plain cancellation, not WithCancelCause: the other layers then stop with
	// context.Canceled and do not repeat the failed layer's error as their own.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if opts.paired == nil {
		opts.paired = &layerPairs{}
	}
	var jobs []layerJob
	seen := map[v1.Hash]int{}
	for i, l := range layers {
		if err := checkHash(l.desc.Digest); err != nil {
			return false, 0, fmt.Errorf("layer %d: %w", i, err)
		}
		if l.desc.Size < 0 {
			return false, 0, fmt.Errorf("layer %s: %w: negative size %d", short(l.desc.Digest), ErrSizeMismatch, l.desc.Size)
		}
		// An image may list one blob twice (empty layers), and the platforms of an index
		// may share one; it is stored once, and consumed once if any of them unpacks it.
		// Listed with two sizes, or by the image unpacked with two DiffIDs, one listing lies:
		// the blob would be stored as one of them, and the other left naming content that
		// is not there (a size no reader finds, a layer dir no unpack makes).
		if j, ok := seen[l.desc.Digest]; ok {
			first := jobs[j]
			if l.desc.Size != first.desc.Size {
				return false, 0, fmt.Errorf("layer %s: %w: listed with %d bytes and with %d", short(l.desc.Digest), ErrSizeMismatch, first.desc.Size, l.desc.Size)
			}
			// Two platforms of an index naming it with two DiffIDs lie as well: a blob is
			// one tar, and either DiffID's layer dir, unpacked here, would run as it.
			if l.named() && first.named() && l.diffID != first.diffID {
				return false, 0, fmt.Errorf("layer %s: %w: listed with DiffIDs %s and %s", short(l.desc.Digest), ErrDigestMismatch, short(first.diffID), short(l.diffID))
			}
			if l.unpack && !first.unpack || l.named() && !first.named() {
				jobs[j] = l
			}
			continue
		}
		seen[l.desc.Digest] = len(jobs)
		jobs = append(jobs, l)
	}
	emit := func(e Event) {
		if opts.Progress != nil {
			opts.Progress(e)
		}
	}
	for _, j := range jobs {
		emit(Event{Digest: j.desc.Digest, Kind: Waiting, Total: j.desc.Size})
	}

	// A pool of opts.Concurrency workers takes the layers in the order listed. One goroutine
	// per layer, waiting its turn, cost a 4 MiB manifest of 25,000 layers 200 MB of stacks.
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		work = make(chan layerJob)
	)
	store := func(j layerJob) {
		lo := opts
		switch {
		case j.check && opts.Layer != nil && opts.NeedLayer != nil:
			lo.Layer, lo.NeedLayer = checkOnly(opts.Layer, opts.NeedLayer)
			lo.checkOnly = true
		case !j.unpack:
			lo.Layer = nil
		}
		r, err := s.writeLayer(ctx, j.desc, j.diffID, lo)
		mu.Lock()
		defer mu.Unlock()
		fetched += r.fetched
		stored = stored || r.stored
		if err != nil {
			// A layer stopped because another failed (or the user interrupted) is not news.
			if !errors.Is(err, context.Canceled) {
				emit(Event{Digest: j.desc.Digest, Kind: Failed, Total: j.desc.Size, Err: err})
			}
			errs = append(errs, fmt.Errorf("layer %s: %w", short(j.desc.Digest), err))
			cancel()
		}
	}
	for range min(opts.Concurrency, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				store(j)
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case work <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if len(errs) == 0 && ctx.Err() != nil {
		errs = append(errs, context.Cause(ctx))
	}
	return stored, fetched, firstCause(errs)
}

// recoverLayer is layer, with a panic of it (a bug the registry's bytes found in the unpacker
// it runs) returned as its error: it fails that layer, not the process, which for `serve
// --pull-through` serves other clients. It runs on a goroutine of its own, beyond net/http's
// recovery of a handler's panic.
func recoverLayer(layer LayerFunc) LayerFunc {
	if layer == nil {
		return nil
	}
	return func(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("unpacking layer %s: internal error: %v", short(desc.Digest), p)
			}
		}()
		return layer(ctx, desc, diffID, r)
	}
}

// firstCause returns the error that failed the group. Layers cancelled because another one
// failed report context.Canceled; those only add noise next to the real cause.
func firstCause(errs []error) error {
	var rest []error
	for _, e := range errs {
		if !errors.Is(e, context.Canceled) {
			return e
		}
		rest = append(rest, e)
	}
	return errors.Join(rest...)
}

type layerResult struct {
	stored  bool
	fetched int64
}

// writeLayer stores one layer (unless present) and feeds the Layer callback.
func (s *Store) writeLayer(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, opts WriteOptions) (res layerResult, err error) {
	emit := func(kind EventKind, cur int64, err error) {
		if opts.Progress != nil {
			opts.Progress(Event{Digest: desc.Digest, Kind: kind, Current: cur, Total: desc.Size, Err: err})
		}
	}
	if s.hasBlobSized(desc) {
		emit(Exists, desc.Size, nil)
		if opts.Layer == nil || opts.NeedLayer == nil {
			return res, nil
		}
		// With the layer dir there, a manifest may still name any stored blob (a config,
		// another image's layer) with its DiffID. Unless a stored image pairs them, Layer
		// gets the blob, to check it is that layer: taken for it, the blob would be saved and
		// pushed as it.
		check := !opts.NeedLayer(diffID)
		if check && opts.Proven != nil && opts.Proven(desc.Digest, diffID) {
			return res, nil
		}
		if check && opts.Proven == nil && (opts.paired == nil || opts.paired.has(s, desc.Digest, diffID)) {
			return res, nil
		}
		if !check {
			emit(Extracting, desc.Size, nil)
		}
		err := s.layerFromDisk(ctx, desc, diffID, opts.Layer)
		if err == nil {
			if !check {
				emit(Done, desc.Size, nil)
			}
			return res, nil
		}
		// The stored blob failed its check while streaming and was removed (see
		// corrupt.go): it is downloaded again below and Layer gets the good stream. Any
		// other failure, the blob still there, is Layer's own.
		if !(errors.Is(err, ErrDigestMismatch) || errors.Is(err, ErrSizeMismatch)) || s.HasBlob(desc.Digest) {
			return res, err
		}
	}

	res, restart, err := s.fetchLayer(ctx, desc, diffID, opts, emit)
	if err != nil && restart {
		// The partial file it resumed was the cause, or may have been, and is gone (see
		// ingestResult.restart): once more from the first byte.
		emit(Resuming, 0, err)
		var again layerResult
		again, _, err = s.fetchLayer(ctx, desc, diffID, opts, emit)
		res.fetched += again.fetched
		res.stored = again.stored
	}
	return res, err
}

// fetchLayer downloads one layer and feeds the Layer callback as it goes. restart reports
// that it failed on a partial file it resumed and removed: another try starts over.
func (s *Store) fetchLayer(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, opts WriteOptions, emit func(EventKind, int64, error)) (res layerResult, restart bool, err error) {
	in := ingest{desc: desc, fetch: opts.Fetch, retries: opts.Retries, event: emit}
	if opts.Layer == nil {
		r, err := s.ingest(ctx, in)
		if err != nil {
			return res, r.restart, err
		}
		res.fetched, res.stored = r.fetched, !r.existed
		emit(Done, desc.Size, nil)
		return res, false, nil
	}

	// The layer callback reads through a pipe while the blob downloads. If it returns early
	// without error, the rest of the download goes on without it (tee switches to discard).
	// It starts only once this process holds the blob's lock: the callback takes the layer's
	// own lock (the snapshotter's, per DiffID), and two pulls of one layer that took the two
	// locks in opposite orders would wait for each other forever (the blob's holder blocked
	// writing to a pipe whose reader waits for the other's layer lock).
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	started := false
	in.locked = func() {
		started = true
		go func() {
			err := opts.Layer(ctx, desc, diffID, pr)
			if err == nil {
				err = errLayerReturned
			}
			pr.CloseWithError(err)
			done <- err
		}()
	}
	in.tee = &lenientTee{w: pw}
	r, err := s.ingest(ctx, in)
	if !started {
		// ingest failed before it held the lock: no callback ran.
		if err == nil {
			err = errors.New("blob stored without its lock held") // cannot happen: ingest locks first
		}
		pw.CloseWithError(err)
		return res, false, err
	}
	res.fetched, res.stored = r.fetched, err == nil && !r.existed
	if err == nil && r.existed {
		// Another process stored it while we waited for its lock: replay from disk, checked
		// as it is read (the callback's stream ends in EOF only on the blob's bytes).
		err = s.copyBlob(ctx, desc, in.tee)
	}
	if err != nil {
		pw.CloseWithError(err)
		lerr := <-done
		var te *teeError
		if errors.As(err, &te) && lerr != errLayerReturned {
			return res, r.restart, fmt.Errorf("consuming layer: %w", lerr)
		}
		return res, r.restart, err
	}
	if !opts.checkOnly {
		emit(Extracting, desc.Size, nil)
	}
	pw.Close()
	if lerr := <-done; lerr != errLayerReturned {
		return res, false, fmt.Errorf("consuming layer: %w", lerr)
	}
	emit(Done, desc.Size, nil)
	return res, false, nil
}

// checkOnly makes of layer the LayerFunc of a layer of another platform (a layerJob's check):
// it gets the blob only where need says the DiffID is unpacked here already, to check it; a
// layer not unpacked is left unread, as never unpacked for another platform. The NeedLayer it
// returns says no layer is needed, so a stored blob is checked too unless an image pairs it.
func checkOnly(layer LayerFunc, need func(v1.Hash) bool) (LayerFunc, func(v1.Hash) bool) {
	return func(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error {
		if need(diffID) {
			return nil
		}
		return layer(ctx, desc, diffID, r)
	}, func(v1.Hash) bool { return false }
}

// errLayerReturned stands for "the Layer callback returned nil" inside writeLayer.
var errLayerReturned = errors.New("layer callback returned")

// lenientTee writes to a pipe until its reader stops reading with errLayerReturned, then
// discards: a LayerFunc that is done early must not fail the download.
type lenientTee struct {
	w       *io.PipeWriter
	stopped bool
}

func (t *lenientTee) Write(p []byte) (int, error) {
	if t.stopped {
		return len(p), nil
	}
	n, err := t.w.Write(p)
	if errors.Is(err, errLayerReturned) {
		t.stopped = true
		return len(p), nil
	}
	return n, err
}

// layerFromDisk calls fn with the stored blob, verified as it is read: LayerFunc's contract
// holds for a blob damaged on disk too, which is then removed for the next pull to repair.
func (s *Store) layerFromDisk(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, fn LayerFunc) error {
	rc, err := s.openVerified(desc)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := fn(ctx, desc, diffID, rc); err != nil {
		return fmt.Errorf("consuming layer: %w", err)
	}
	return nil
}

func (s *Store) copyBlob(ctx context.Context, desc v1.Descriptor, w io.Writer) error {
	rc, err := s.openVerified(desc)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, ctxio.NewReader(ctx, rc))
	return err
}

// imageFetcher is the Fetcher used without WriteOptions.Fetch: it cannot ask for a range, so
// it reads and drops the bytes before offset.
func imageFetcher(img v1.Image) Fetcher {
	return func(ctx context.Context, h v1.Hash, offset int64) (io.ReadCloser, error) {
		l, err := img.LayerByDigest(h)
		if err != nil {
			return nil, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		if offset > 0 {
			if _, err := io.CopyN(io.Discard, ctxio.NewReader(ctx, rc), offset); err != nil {
				rc.Close()
				return nil, fmt.Errorf("skipping to offset %d: %w", offset, err)
			}
		}
		return rc, nil
	}
}

// Paired returns a lookup of whether a stored image lists blob as the layer of diffID (see
// layerPairs), the store's images read at its first call: for a writer other than WriteImage
// (a load) that checks, as a pull does, a layer it finds unpacked already unless an image
// pairs the two.
func (s *Store) Paired() func(blob, diffID v1.Hash) bool {
	p := &layerPairs{}
	return func(blob, diffID v1.Hash) bool { return p.has(s, blob, diffID) }
}
