package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
)

// TestServeWhileRemoved: clients pull an image's blobs (whole, in ranges, HEAD) while another
// process untags it, prunes the store and stores it again, over and over. Every answer is
// either the blob's own bytes (or the range of them asked for) or an error the client can
// read; never other bytes, a body cut short, or a crashed server.
func TestServeWhileRemoved(t *testing.T) {
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(1<<20, 3)
	if err != nil {
		t.Fatal(err)
	}
	const ref = "docker.io/library/churn:1"
	ctx := context.Background()
	if _, err := store.WriteImage(ctx, ref, img, cache.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	type blob struct {
		digest v1.Hash
		data   []byte
	}
	var blobs []blob
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, blob{d, b})
	}
	srv := httptest.NewServer(New(store, Options{}))
	defer srv.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var churns atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			store.Untag(ref)
			store.Prune(ctx, false)
			if _, err := store.WriteImage(ctx, ref, img, cache.WriteOptions{}); err != nil {
				t.Errorf("WriteImage: %v", err)
				return
			}
			churns.Add(1)
			time.Sleep(100 * time.Millisecond) // served a while between removals
		}
	}()

	var served, refused atomic.Int64
	check := func(c *http.Client) error {
		b := blobs[rand.IntN(len(blobs))]
		url := srv.URL + "/v2/churn/blobs/" + b.digest.String()
		method, rng := http.MethodGet, ""
		switch rand.IntN(3) {
		case 1:
			start := rand.IntN(len(b.data))
			rng = fmt.Sprintf("bytes=%d-%d", start, start+rand.IntN(len(b.data)-start))
		case 2:
			method = http.MethodHead
		}
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			return err
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s (%s): %w", method, url, rng, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("%s %s (%s): status %d, body cut short: %w", method, url, rng, resp.StatusCode, err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			if method == http.MethodHead {
				if resp.ContentLength != int64(len(b.data)) {
					return fmt.Errorf("HEAD %s: Content-Length %d, want %d", url, resp.ContentLength, len(b.data))
				}
				break
			}
			if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != b.digest.Hex {
				return fmt.Errorf("GET %s: 200 with %d bytes that are not the blob", url, len(body))
			}
		case http.StatusPartialContent:
			var start, end int
			if _, err := fmt.Sscanf(rng, "bytes=%d-%d", &start, &end); err != nil {
				return err
			}
			if !bytes.Equal(body, b.data[start:end+1]) {
				return fmt.Errorf("GET %s (%s): 206 with other bytes than the range", url, rng)
			}
		case http.StatusNotFound:
			refused.Add(1)
			return nil
		default:
			return fmt.Errorf("%s %s (%s): status %d: %s", method, url, rng, resp.StatusCode, body)
		}
		served.Add(1)
		return nil
	}
	errs := make(chan error, 16)
	deadline := time.Now().Add(2 * time.Second)
	var clients sync.WaitGroup
	for range 8 {
		clients.Add(1)
		go func() {
			defer clients.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			for time.Now().Before(deadline) {
				if err := check(c); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	clients.Wait()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d served, %d not found, %d removals and stores", served.Load(), refused.Load(), churns.Load())
	if served.Load() == 0 || churns.Load() == 0 {
		t.Errorf("%d served, %d removals: the test did not race", served.Load(), churns.Load())
	}
}
