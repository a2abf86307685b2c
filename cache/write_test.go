package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const testRef = "example.com/test/img:latest"

func TestWriteImageStoresEverythingOnce(t *testing.T) {
	img := imageOf(t, seededLayers(t, 1, 3, 64<<10)...)
	reg := newFakeRegistry(t, img)
	s := openStore(t, t.TempDir())
	ctx := context.Background()

	res, err := s.WriteImage(ctx, testRef, img, WriteOptions{Fetch: reg.fetch})
	if err != nil {
		t.Fatalf("WriteImage = %v", err)
	}
	if !res.Downloaded || !res.Updated || res.Previous != nil {
		t.Errorf("first WriteImage = %+v, want Downloaded, Updated and no Previous", res)
	}
	wantDigest, _ := img.Digest()
	wantID, _ := img.ConfigName()
	if res.Manifest.Digest != wantDigest || res.ID != wantID {
		t.Errorf("WriteImage = manifest %v id %v, want %v %v", res.Manifest.Digest, res.ID, wantDigest, wantID)
	}
	var total int64
	for _, l := range layerDescs(t, img) {
		if !s.HasBlob(l.Digest) {
			t.Errorf("layer %s missing after WriteImage", l.Digest)
		}
		total += l.Size
	}
	if res.Bytes != total {
		t.Errorf("WriteImage fetched %d bytes, want %d", res.Bytes, total)
	}
	checkBlobsHashToNames(t, s)
	checkIngestEmpty(t, s)

	desc, err := s.Resolve(testRef)
	if err != nil || desc.Digest != wantDigest {
		t.Fatalf("Resolve(%q) = %v, %v, want %v", testRef, desc.Digest, err, wantDigest)
	}
	local, err := s.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	gotID, err := local.ConfigName()
	if err != nil || gotID != wantID {
		t.Errorf("stored Image ConfigName = %v, %v, want %v", gotID, err, wantID)
	}
	layers, err := local.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		d, _ := l.Digest()
		if !bytes.Equal(b, reg.blobs[d]) {
			t.Errorf("stored layer %d differs from what the registry served", i)
		}
	}

	// Second pull: nothing is fetched and nothing is new, not even index.json.
	before, err := os.Stat(filepath.Join(s.Dir(), "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	calls := len(reg.calls)
	res, err = s.WriteImage(ctx, testRef, img, WriteOptions{Fetch: reg.fetch})
	if err != nil {
		t.Fatal(err)
	}
	if res.Downloaded || res.Updated || res.Bytes != 0 || len(reg.calls) != calls {
		t.Errorf("second WriteImage = %+v with %d new fetches, want nothing downloaded", res, len(reg.calls)-calls)
	}
	after, err := os.Stat(filepath.Join(s.Dir(), "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("second WriteImage of an unchanged image rewrote index.json")
	}
	if res.Previous == nil || res.Previous.Digest != wantDigest {
		t.Errorf("second WriteImage Previous = %v, want %v", res.Previous, wantDigest)
	}
}

func TestWriteImageResumesDroppedConnection(t *testing.T) {
	img := imageOf(t, seededLayers(t, 2, 2, 256<<10)...)
	reg := newFakeRegistry(t, img)
	layer := layerDescs(t, img)[1]
	drop := layer.Size / 3
	reg.dropAfter[layer.Digest] = drop
	rec := newLayerRecorder()
	s := openStore(t, t.TempDir())

	var mu sync.Mutex
	var resumes []Event
	opts := WriteOptions{Fetch: reg.fetch, Layer: rec.layer, Progress: func(e Event) {
		if e.Kind == Resuming {
			mu.Lock()
			resumes = append(resumes, e)
			mu.Unlock()
		}
	}}
	if _, err := s.WriteImage(context.Background(), testRef, img, opts); err != nil {
		t.Fatalf("WriteImage with a dropped connection = %v", err)
	}
	calls := reg.callsFor(layer.Digest)
	if len(calls) != 2 || calls[0].offset != 0 || calls[1].offset != drop {
		t.Errorf("fetches of the dropped layer = %+v, want offsets 0 then %d", calls, drop)
	}
	if got := reg.servedFor(layer.Digest); got != layer.Size {
		t.Errorf("served %d bytes of the dropped layer, want %d (no byte twice)", got, layer.Size)
	}
	if len(resumes) != 1 || resumes[0].Current != drop || !errors.Is(resumes[0].Err, errDropped) {
		t.Errorf("Resuming events = %+v, want one at %d with the drop error", resumes, drop)
	}
	for _, l := range layerDescs(t, img) {
		if !bytes.Equal(rec.got[l.Digest], reg.blobs[l.Digest]) || rec.n[l.Digest] != 1 {
			t.Errorf("Layer got %d bytes in %d calls for %s, want the %d blob bytes once", len(rec.got[l.Digest]), rec.n[l.Digest], short(l.Digest), l.Size)
		}
	}
	checkBlobsHashToNames(t, s)
	checkIngestEmpty(t, s)
}

func TestWriteImageResumesPartialFromKilledPull(t *testing.T) {
	img := imageOf(t, seededLayers(t, 3, 2, 256<<10)...)
	reg := newFakeRegistry(t, img)
	layer := layerDescs(t, img)[0]
	s := openStore(t, t.TempDir())
	// What a pull killed with -9 leaves: a prefix of the blob in its partial file.
	have := layer.Size / 2
	partial := filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial")
	if err := os.WriteFile(partial, reg.blobs[layer.Digest][:have], 0o644); err != nil {
		t.Fatal(err)
	}
	rec := newLayerRecorder()
	res, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: reg.fetch, Layer: rec.layer})
	if err != nil {
		t.Fatalf("WriteImage over a partial = %v", err)
	}
	calls := reg.callsFor(layer.Digest)
	if len(calls) != 1 || calls[0].offset != have {
		t.Errorf("fetches of the partial layer = %+v, want one at offset %d", calls, have)
	}
	if got := reg.servedFor(layer.Digest); got != layer.Size-have {
		t.Errorf("served %d bytes of the partial layer, want the missing %d", got, layer.Size-have)
	}
	other := layerDescs(t, img)[1]
	if res.Bytes != layer.Size-have+other.Size {
		t.Errorf("WriteResult.Bytes = %d, want %d", res.Bytes, layer.Size-have+other.Size)
	}
	if !bytes.Equal(rec.got[layer.Digest], reg.blobs[layer.Digest]) {
		t.Errorf("Layer got %d bytes of the resumed layer, want all %d, partial replayed first", len(rec.got[layer.Digest]), layer.Size)
	}
	checkBlobsHashToNames(t, s)
	checkIngestEmpty(t, s)
}

func TestWriteImageDigestMismatch(t *testing.T) {
	img := imageOf(t, seededLayers(t, 4, 3, 64<<10)...)
	reg := newFakeRegistry(t, img)
	layer := layerDescs(t, img)[1]
	reg.corrupt[layer.Digest] = true
	s := openStore(t, t.TempDir())
	rec := newLayerRecorder()
	var mu sync.Mutex
	var failed []Event
	progress := func(e Event) {
		if e.Kind == Failed {
			mu.Lock()
			failed = append(failed, e)
			mu.Unlock()
		}
	}
	_, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: reg.fetch, Layer: rec.layer, Progress: progress})
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("WriteImage of a corrupt layer = %v, want ErrDigestMismatch", err)
	}
	// Only the corrupt layer reports Failed; the others finish or stop quietly.
	if len(failed) != 1 || failed[0].Digest != layer.Digest || !errors.Is(failed[0].Err, ErrDigestMismatch) {
		t.Errorf("Failed events = %+v, want one for %s with the mismatch", failed, short(layer.Digest))
	}
	if s.HasBlob(layer.Digest) {
		t.Error("corrupt layer is visible in the store")
	}
	if rec.n[layer.Digest] != 0 {
		t.Error("Layer returned nil for a corrupt layer: the stream must end with the mismatch, not EOF")
	}
	if _, err := s.Resolve(testRef); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve after a failed pull = %v, want ErrNotFound", err)
	}
	// The partial is deleted: it is not a prefix of the blob, resuming it would fail forever.
	if _, err := os.Stat(filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("partial of the corrupt layer after the mismatch: %v, want it deleted", err)
	}
}

func TestWriteImageGivesUpAndKeepsPartial(t *testing.T) {
	img := imageOf(t, seededLayers(t, 5, 1, 64<<10)...)
	reg := newFakeRegistry(t, img)
	layer := layerDescs(t, img)[0]
	reg.dropAfter[layer.Digest] = 1000
	s := openStore(t, t.TempDir())
	first := true
	fetch := func(ctx context.Context, h v1.Hash, off int64) (io.ReadCloser, error) {
		if first {
			first = false
			return reg.fetch(ctx, h, off)
		}
		return nil, errDropped
	}
	_, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: fetch, Retries: 2})
	if !errors.Is(err, errDropped) {
		t.Fatalf("WriteImage with a dead registry = %v, want the fetch error", err)
	}
	fi, err := os.Stat(filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial"))
	if err != nil || fi.Size() != 1000 {
		t.Fatalf("partial after giving up = %v, %v, want 1000 bytes kept for the next pull", fi, err)
	}
	// The next pull resumes from it.
	res, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: reg.fetch})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != layer.Size-1000 {
		t.Errorf("resumed pull fetched %d bytes, want %d", res.Bytes, layer.Size-1000)
	}
}

func TestWriteImageLayerForPresentBlobs(t *testing.T) {
	img := imageOf(t, seededLayers(t, 6, 2, 32<<10)...)
	reg := newFakeRegistry(t, img)
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	if _, err := s.WriteImage(ctx, testRef, img, WriteOptions{Fetch: reg.fetch}); err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	missing := cfg.RootFS.DiffIDs[1]
	rec := newLayerRecorder()
	opts := WriteOptions{Fetch: reg.fetch, Layer: rec.layer, NeedLayer: func(d v1.Hash) bool { return d == missing }}
	if _, err := s.WriteImage(ctx, testRef, img, opts); err != nil {
		t.Fatal(err)
	}
	ls := layerDescs(t, img)
	if rec.n[ls[0].Digest] != 0 || rec.n[ls[1].Digest] != 1 || !bytes.Equal(rec.got[ls[1].Digest], reg.blobs[ls[1].Digest]) {
		t.Errorf("Layer calls = %v, want only the layer NeedLayer asked for, with its blob", rec.n)
	}
}

func TestWriteImageLayerError(t *testing.T) {
	img := imageOf(t, seededLayers(t, 7, 1, 64<<10)...)
	reg := newFakeRegistry(t, img)
	s := openStore(t, t.TempDir())
	errUnpack := errors.New("unpack failed")
	layer := func(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error {
		io.CopyN(io.Discard, r, 10)
		return errUnpack
	}
	_, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: reg.fetch, Layer: layer})
	if !errors.Is(err, errUnpack) {
		t.Fatalf("WriteImage with a failing Layer = %v, want its error", err)
	}
	if _, err := s.Resolve(testRef); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve after a failed Layer = %v, want ErrNotFound", err)
	}
}

// TestWriteImageConcurrentStores pulls two images sharing layers through two Stores on one
// directory at once, as two strata processes would: both succeed and every blob is fetched
// exactly once.
func TestWriteImageConcurrentStores(t *testing.T) {
	ls := seededLayers(t, 8, 4, 128<<10)
	a := imageOf(t, ls[0], ls[1], ls[2])
	b := imageOf(t, ls[0], ls[1], ls[3])
	reg := newFakeRegistry(t, a, b)
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	imgs := []v1.Image{a, b}
	recs := []*layerRecorder{newLayerRecorder(), newLayerRecorder()}
	for i, img := range imgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(dir)
			if err != nil {
				errs[i] = err
				return
			}
			opts := WriteOptions{Fetch: reg.fetch, Concurrency: 1, Layer: recs[i].layer}
			_, errs[i] = s.WriteImage(context.Background(), refName(i), img, opts)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("WriteImage %d = %v", i, err)
		}
	}
	// Each pull's Layer gets each of its layers once, whether this pull downloaded it, waited
	// for the other one to, or found it stored: both unpack complete images.
	for i, img := range imgs {
		for _, l := range layerDescs(t, img) {
			got, n := recs[i].got[l.Digest], recs[i].n[l.Digest]
			if n > 1 || (n == 1 && !bytes.Equal(got, reg.blobs[l.Digest])) {
				t.Errorf("pull %d: Layer got %s %d times (%d bytes), want its blob at most once", i, short(l.Digest), n, len(got))
			}
		}
	}
	for d, blob := range reg.blobs {
		if calls := reg.callsFor(d); len(calls) != 1 {
			t.Errorf("blob %s fetched %d times, want once", short(d), len(calls))
		}
		if got := reg.servedFor(d); got != int64(len(blob)) {
			t.Errorf("blob %s: served %d bytes, want %d", short(d), got, len(blob))
		}
	}
	s := openStore(t, dir)
	checkBlobsHashToNames(t, s)
	checkIngestEmpty(t, s)
	if refs, _ := s.List(); len(refs) != 2 {
		t.Errorf("List() after two pulls = %d refs, want 2", len(refs))
	}
}

// TestWriteImageDefaultFetch pulls without a Fetcher: the image's own layers are read, and a
// partial file is completed by skipping the bytes it already holds.
func TestWriteImageDefaultFetch(t *testing.T) {
	img := imageOf(t, seededLayers(t, 9, 2, 64<<10)...)
	reg := newFakeRegistry(t, img)
	layer := layerDescs(t, img)[0]
	s := openStore(t, t.TempDir())
	have := layer.Size / 4
	partial := filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial")
	if err := os.WriteFile(partial, reg.blobs[layer.Digest][:have], 0o644); err != nil {
		t.Fatal(err)
	}
	rec := newLayerRecorder()
	if _, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Layer: rec.layer}); err != nil {
		t.Fatalf("WriteImage without Fetch = %v", err)
	}
	for _, l := range layerDescs(t, img) {
		if !bytes.Equal(rec.got[l.Digest], reg.blobs[l.Digest]) {
			t.Errorf("Layer got %d bytes of %s, want its %d", len(rec.got[l.Digest]), short(l.Digest), l.Size)
		}
	}
	checkBlobsHashToNames(t, s)
	checkIngestEmpty(t, s)
}

// TestWriteImageAnnotations checks that WriteOptions.Annotations land on the ref's descriptor
// beside the ref name, and that a second write with other annotations replaces them.
func TestWriteImageAnnotations(t *testing.T) {
	img := imageOf(t, seededLayers(t, 7, 1, 1<<10)...)
	reg := newFakeRegistry(t, img)
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	for _, ann := range []map[string]string{
		{"example.root": "sha256:aaaa", "example.platform": "linux/amd64"},
		{"example.root": "sha256:bbbb"},
	} {
		res, err := s.WriteImage(ctx, testRef, img, WriteOptions{Fetch: reg.fetch, Annotations: ann})
		if err != nil {
			t.Fatalf("WriteImage(annotations %v) = %v", ann, err)
		}
		desc, err := s.Resolve(testRef)
		if err != nil {
			t.Fatal(err)
		}
		if desc.Annotations[RefNameAnnotation] != testRef {
			t.Errorf("ref name annotation = %q, want %q", desc.Annotations[RefNameAnnotation], testRef)
		}
		if len(desc.Annotations) != len(ann)+1 {
			t.Errorf("annotations = %v, want %v plus the ref name", desc.Annotations, ann)
		}
		for k, v := range ann {
			if desc.Annotations[k] != v {
				t.Errorf("annotation %s = %q, want %q", k, desc.Annotations[k], v)
			}
		}
		if res.Manifest.Digest != desc.Digest {
			t.Errorf("WriteImage manifest %v, index.json names %v", res.Manifest.Digest, desc.Digest)
		}
	}
}

// TestWriteImageBlobLongerThanDescriptor checks that a registry sending more bytes than the
// manifest gives fails the layer at once (no retries: it would send the same again) with
// ErrSizeMismatch, although the first Size bytes hash right, and leaves nothing behind.
func TestWriteImageBlobLongerThanDescriptor(t *testing.T) {
	img := imageOf(t, seededLayers(t, 8, 1, 32<<10)...)
	reg := newFakeRegistry(t, img)
	layer := layerDescs(t, img)[0]
	long := func(ctx context.Context, h v1.Hash, off int64) (io.ReadCloser, error) {
		rc, err := reg.fetch(ctx, h, off)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(io.MultiReader(rc, bytes.NewReader([]byte("trailing bytes")))), nil
	}
	s := openStore(t, t.TempDir())
	rec := newLayerRecorder()
	_, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: long, Layer: rec.layer})
	if !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("WriteImage of a layer longer than its descriptor = %v, want ErrSizeMismatch", err)
	}
	if n := len(reg.callsFor(layer.Digest)); n != 1 {
		t.Errorf("layer fetched %d times, want once: a size mismatch is not retried", n)
	}
	if s.HasBlob(layer.Digest) || rec.n[layer.Digest] != 0 {
		t.Errorf("the layer was stored (%v) or consumed (%d)", s.HasBlob(layer.Digest), rec.n[layer.Digest])
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("partial after the size mismatch: %v, want it deleted", err)
	}
	checkBlobsHashToNames(t, s)
}

// TestWriteImageConcurrentLayerLocks: two pulls of one image into one store, whose Layer
// callbacks each hold a per-layer lock for as long as they read (as the snapshotter's per-DiffID
// lock does), must not wait for each other forever. Before the callback started only under
// the blob's lock, one pull could hold the blob lock while its callback waited for the layer
// lock, and the other hold the layer lock while it waited for the blob lock.
func TestWriteImageConcurrentLayerLocks(t *testing.T) {
	img := imageOf(t, seededLayers(t, 4, 1, 512<<10)...)
	for round := 0; round < 10; round++ {
		reg := newFakeRegistry(t, img)
		dir := t.TempDir()
		var layerLocks sync.Map // digest → *sync.Mutex, one lock per layer across both pulls
		layer := func(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error {
			m, _ := layerLocks.LoadOrStore(desc.Digest, &sync.Mutex{})
			m.(*sync.Mutex).Lock()
			defer m.(*sync.Mutex).Unlock()
			_, err := io.Copy(io.Discard, r)
			return err
		}
		errc := make(chan error, 2)
		for i := 0; i < 2; i++ {
			s := openStore(t, dir) // each pull opens the store, as two strata processes do
			go func() {
				_, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: reg.fetch, Layer: layer})
				errc <- err
			}()
		}
		for i := 0; i < 2; i++ {
			select {
			case err := <-errc:
				if err != nil {
					t.Fatalf("round %d: WriteImage = %v", round, err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("round %d: two concurrent pulls of one image are stuck on each other's locks", round)
			}
		}
	}
}
