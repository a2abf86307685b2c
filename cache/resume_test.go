package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// trickler serves a blob from any offset but hangs up after chunk bytes of each response, as
// a hostile registry can, counting the fetches.
type trickler struct {
	mu    sync.Mutex
	blob  []byte
	chunk int64
	calls int
}

func (tr *trickler) fetch(_ context.Context, _ v1.Hash, off int64) (io.ReadCloser, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.calls++
	end := min(off+tr.chunk, int64(len(tr.blob)))
	return io.NopCloser(&failingReader{r: bytes.NewReader(tr.blob[off:end]), err: errDropped}), nil
}

func (tr *trickler) fetches() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.calls
}

// TestTrickleGivesUp: a registry that sends a few bytes per response and hangs up does not
// count as making progress: the download gives up after Retries resumes, keeping what it has,
// instead of resuming once per few bytes for as long as the blob lasts.
func TestTrickleGivesUp(t *testing.T) {
	img := imageOf(t, seededLayers(t, 21, 1, 256<<10)...)
	layer := layerDescs(t, img)[0]
	reg := newFakeRegistry(t, img)
	tr := &trickler{blob: reg.blobs[layer.Digest], chunk: 100}
	s := openStore(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.WriteImage(ctx, testRef, img, WriteOptions{Fetch: tr.fetch, Retries: 3})
	if err == nil || !errors.Is(err, errDropped) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("WriteImage from a trickling registry = %v, want one line with the drop", err)
	}
	if got := tr.fetches(); got != 4 {
		t.Errorf("the trickling registry was asked %d times, want 4 (Retries 3 + 1)", got)
	}
	fi, err := os.Stat(filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial"))
	if err != nil || fi.Size() != 400 {
		t.Errorf("partial after giving up = %v, %v, want the 400 bytes fetched kept", fi, err)
	}
}

// TestResumeAttemptCap: attempts that each bring real progress are still bounded in number,
// with a message that says so; the partial is kept for the next pull.
func TestResumeAttemptCap(t *testing.T) {
	img := imageOf(t, seededLayers(t, 22, 1, 1<<20)...)
	layer := layerDescs(t, img)[0]
	reg := newFakeRegistry(t, img)
	tr := &trickler{blob: reg.blobs[layer.Digest], chunk: minResumeProgress}
	s := openStore(t, t.TempDir())
	in := ingest{desc: layer, fetch: tr.fetch, retries: 5, maxAttempts: 4,
		event: func(EventKind, int64, error) {}}
	_, err := s.ingest(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "gave up after 4 attempts") || !errors.Is(err, errDropped) {
		t.Fatalf("ingest = %v, want it to give up after 4 attempts", err)
	}
	if got := tr.fetches(); got != 4 {
		t.Errorf("fetched %d times, want 4", got)
	}
	fi, err := os.Stat(filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial"))
	if err != nil || fi.Size() != 4*minResumeProgress {
		t.Errorf("partial after giving up = %v, %v, want %d bytes kept", fi, err, 4*minResumeProgress)
	}
}

// TestFlakyLinkStillCompletes: a link that drops every minResumeProgress bytes or more makes
// progress each time, so even one retry is enough for a blob many times that size.
func TestFlakyLinkStillCompletes(t *testing.T) {
	img := imageOf(t, seededLayers(t, 23, 1, 1<<20)...)
	layer := layerDescs(t, img)[0]
	reg := newFakeRegistry(t, img)
	tr := &trickler{blob: reg.blobs[layer.Digest], chunk: 100 << 10}
	s := openStore(t, t.TempDir())
	if _, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: tr.fetch, Retries: 1}); err != nil {
		t.Fatalf("WriteImage over a link dropping every 100 KiB = %v", err)
	}
	if want := int(layer.Size/(100<<10)) + 1; tr.fetches() != want {
		t.Errorf("fetched %d times, want %d", tr.fetches(), want)
	}
	checkBlobsHashToNames(t, s)
}
