package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
)

// stallRetry is fastRetry with a short stall limit.
var stallRetry = retryPolicy{attempts: 2, backoff: time.Millisecond, maxRetryAfter: 5 * time.Millisecond, stall: 300 * time.Millisecond}

// within runs f and fails the test if it has not returned after d: a stalled registry must
// not hang strata.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still waiting after %s on a stalled registry", d)
	}
}

// stallHere blocks a handler until the client gives up or the test ends.
func stallHere(t *testing.T, r *http.Request, quit <-chan struct{}) {
	select {
	case <-r.Context().Done():
	case <-quit:
	}
}

// TestStalledRegistry: a registry that accepts the connection and then stops answering, at any
// point of the pull, fails the pull as timed out instead of hanging it forever.
func TestStalledRegistry(t *testing.T) {
	tests := []struct {
		name  string
		stall func(w http.ResponseWriter, r *http.Request) bool // true: stalled or answered
	}{
		{"ping never answers", func(w http.ResponseWriter, r *http.Request) bool {
			return r.URL.Path == "/v2/"
		}},
		{"manifest headers never come", func(w http.ResponseWriter, r *http.Request) bool {
			return strings.Contains(r.URL.Path, "/manifests/")
		}},
		{"manifest body stops", func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.Contains(r.URL.Path, "/manifests/") || r.Method != http.MethodGet {
				return false
			}
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Content-Length", "1000")
			io.WriteString(w, `{"schemaVersion":2,`)
			w.(http.Flusher).Flush()
			return true
		}},
		{"config body stops", func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.Contains(r.URL.Path, "/blobs/") {
				return false
			}
			io.WriteString(w, `{"architecture":`)
			w.(http.Flusher).Flush()
			return true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			quit := make(chan struct{})
			img := randomImage(t)
			host := serve(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if !strings.HasPrefix(r.UserAgent(), "setup") && tt.stall(w, r) {
						stallHere(t, r, quit)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			t.Cleanup(func() { close(quit) })
			// The push that sets the registry up is not stalled.
			setup := testOptions()
			setup.UserAgent = "setup"
			ref := mustRef(t, host+"/stall/app:1")
			if err := Push(context.Background(), ref, img, setup); err != nil {
				t.Fatal(err)
			}
			opts := testOptions()
			opts.retry = &stallRetry
			p, err := NewPuller(opts)
			if err != nil {
				t.Fatal(err)
			}
			within(t, 20*time.Second, func() {
				got, err := p.Image(context.Background(), ref)
				if err == nil {
					_, err = got.ConfigFile()
				}
				if err == nil {
					t.Error("pull from a stalled registry succeeded")
					return
				}
				if errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "timed out") {
					t.Errorf("pull = %q, want one line saying it timed out, not a cancellation", err)
				}
				t.Logf("pull = %v", err)
			})
		})
	}
}

// TestStalledBlob: a blob body that stops mid-way fails the read as timed out (the cache
// resumes it), while a reader that is itself slow, or a registry that trickles, is not cut off.
func TestStalledBlob(t *testing.T) {
	const size = 64 << 10
	blob := bytes.Repeat([]byte("b"), size)
	quit := make(chan struct{})
	var mode atomic.Value
	mode.Store("stall")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/blobs/") {
			return // the ping and anything else: 200, no auth
		}
		w.Header().Set("Content-Length", fmt.Sprint(size))
		switch mode.Load() {
		case "stall":
			w.Write(blob[:size/2])
			w.(http.Flusher).Flush()
			stallHere(t, r, quit)
		case "drip":
			// A byte now and then, each well within the limit: never quiet, never getting on.
			w.Write(blob[:size/2])
			w.(http.Flusher).Flush()
			for i := 0; i < 100 && !isClosed(quit); i++ {
				time.Sleep(stallRetry.stall / 4)
				if _, err := w.Write(blob[:1]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		case "trickle":
			for i := 0; i < 8; i++ {
				w.Write(blob[i*size/8 : (i+1)*size/8])
				w.(http.Flusher).Flush()
				time.Sleep(stallRetry.stall / 3)
			}
		default:
			w.Write(blob)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(quit) })
	opts := testOptions()
	opts.retry = &stallRetry
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	ref := mustRef(t, strings.TrimPrefix(srv.URL, "http://")+"/stall/blob:1")
	s, _, err := p.open(context.Background(), ref, endpoint{host: ref.domain, insecure: true}, "pull")
	if err != nil {
		t.Fatal(err)
	}
	img := &Image{Image: empty.Image, Ref: ref, sess: s}
	h := digestOf(t, randomImage(t))
	fetch := func() ([]byte, error) {
		body, err := img.FetchBlob(context.Background(), h, 0)
		if err != nil {
			return nil, err
		}
		defer body.Close()
		if mode.Load() == "slow reader" {
			// The reader, not the registry, takes its time between reads.
			head := make([]byte, 100)
			if _, err := io.ReadFull(body, head); err != nil {
				return nil, err
			}
			time.Sleep(3 * stallRetry.stall)
			rest, err := io.ReadAll(body)
			return append(head, rest...), err
		}
		return io.ReadAll(body)
	}

	for _, m := range []string{"stall", "drip"} {
		mode.Store(m)
		within(t, 20*time.Second, func() {
			got, err := fetch()
			if err == nil {
				t.Errorf("%s: FetchBlob of a stalled body read %d bytes and no error", m, len(got))
				return
			}
			var ne interface{ Timeout() bool }
			if errors.Is(err, context.Canceled) || !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("%s: reading a stalled blob = %v, want a timeout that is not a cancellation", m, err)
			}
		})
	}
	for _, m := range []string{"slow reader", "trickle"} {
		mode.Store(m)
		within(t, 20*time.Second, func() {
			if got, err := fetch(); err != nil || len(got) != size {
				t.Errorf("%s: read %d bytes, %v; want all %d", m, len(got), err, size)
			}
		})
	}
}

// TestSlowCommitIsNotAStall: a registry may think before it answers a push's requests (the
// PUT that commits an upload is a copy on S3): only reads are held to the stall limit.
func TestSlowCommitIsNotAStall(t *testing.T) {
	var commits atomic.Int64
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut {
				if strings.Contains(r.URL.Path, "/blobs/uploads/") {
					commits.Add(1)
				}
				time.Sleep(2 * stallRetry.stall)
			}
			next.ServeHTTP(w, r)
		})
	})
	opts := testOptions()
	opts.retry = &stallRetry
	within(t, 20*time.Second, func() {
		if err := Push(context.Background(), mustRef(t, host+"/slow/commit:1"), randomImage(t), opts); err != nil {
			t.Errorf("Push to a registry slow to commit = %v", err)
		}
	})
	// Two layers and a config: one commit each, none given up on and sent again.
	if n := commits.Load(); n != 3 {
		t.Errorf("%d upload commits, want 3", n)
	}
}

// TestStalledPush: a registry that never answers the POST that starts an upload fails the push
// as timed out (only PUT and PATCH, which may wait on the registry's storage, wait longer).
func TestStalledPush(t *testing.T) {
	quit := make(chan struct{})
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				stallHere(t, r, quit)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	t.Cleanup(func() { close(quit) })
	opts := testOptions()
	opts.retry = &stallRetry
	within(t, 20*time.Second, func() {
		err := Push(context.Background(), mustRef(t, host+"/stall/push:1"), randomImage(t), opts)
		if err == nil || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("Push to a registry that never answers POST = %v, want it timed out", err)
		}
	})
}
