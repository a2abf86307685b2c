package registry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestConcurrentPullsShareOneToken(t *testing.T) {
	ts := &tokenServer{}
	host := serve(t, ts.wrap)
	img := randomImage(t)
	ref := pushImage(t, host+"/conc/app:1", img)
	before := ts.requests.Load()

	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := p.Image(context.Background(), ref)
			if err != nil {
				errs <- err
				return
			}
			for _, l := range layers {
				body, err := got.FetchBlob(context.Background(), digestOf(t, l), 0)
				if err != nil {
					errs <- err
					return
				}
				_, err = io.Copy(io.Discard, body)
				body.Close()
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent pull: %v", err)
	}
	if n := ts.requests.Load() - before; n != 1 {
		t.Errorf("token requests for 8 concurrent pulls on one Puller = %d, want 1", n)
	}
}

func TestHeadWithoutDigestHeader(t *testing.T) {
	// Some registries answer HEAD without Docker-Content-Digest; Head then falls back to GET.
	var on atomic.Bool
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if on.Load() && r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/") {
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				w.Header().Set("Content-Length", "10")
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	img := randomImage(t)
	ref := pushImage(t, host+"/head/app:1", img)
	on.Store(true)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Head(context.Background(), ref)
	if err != nil || d.Digest != digestOf(t, img) {
		t.Errorf("Head(%s) = %s, %v; want %s", ref, d.Digest, err, digestOf(t, img))
	}
	if _, err := p.Head(context.Background(), mustRef(t, host+"/head/app:missing")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Head(missing) = %v, want ErrNotFound", err)
	}
}

func TestPushUnauthorized(t *testing.T) {
	host := serve(t, basicAuth("alice", "s3cret"))
	ref := mustRef(t, host+"/private/app:1")
	err := Push(context.Background(), ref, randomImage(t), testOptions())
	if !errors.Is(err, ErrUnauthorized) || !strings.HasPrefix(err.Error(), "push access denied for "+ref.Name()) ||
		!strings.Contains(err.Error(), "strata login "+host) {
		t.Errorf("Push without credentials = %v, want ErrUnauthorized saying to log in", err)
	}
}
