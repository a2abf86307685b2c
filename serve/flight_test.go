package serve

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

// TestPullThroughMissShared: requests for one manifest that arrive while a pull-through of it
// is under way share that pull's outcome, a miss as much as a success. Each waited for the
// one before and then pulled again: eight clients asking for a tag upstream lacks made eight
// upstream pulls, one after another.
func TestPullThroughMissShared(t *testing.T) {
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	const clients = 8
	var calls atomic.Int32
	entered := make(chan struct{}, clients)
	release := make(chan struct{})
	h := New(store, Options{PullThrough: func(ctx context.Context, name, ref string) error {
		calls.Add(1)
		entered <- struct{}{}
		select {
		case <-release:
			return registry.ErrNotFound
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
	waiting := make(chan struct{}, clients)
	h.onFlightWait = func(string) { waiting <- struct{}{} }

	var wg sync.WaitGroup
	codes := make(chan string, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := serveRaw(h, http.MethodGet, "/v2/library/gone/manifests/1", nil)
			var e struct{ Errors []apiError }
			json.Unmarshal(rec.Body.Bytes(), &e)
			code := ""
			if len(e.Errors) == 1 {
				code = e.Errors[0].Code
			}
			if rec.Code != http.StatusNotFound || code != codeManifestUnknown {
				t.Errorf("GET of a manifest upstream lacks = %d %s, want 404 %s", rec.Code, rec.Body.Bytes(), codeManifestUnknown)
			}
			codes <- code
		}()
	}
	<-entered
	for range clients - 1 {
		<-waiting
	}
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("%d upstream pulls for %d concurrent requests of one manifest, want 1", n, clients)
	}

	// A pull whose client left is no outcome: the request waiting for it pulls itself.
	calls.Store(0)
	release = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan struct{})
	go func() {
		defer close(first)
		req := httptest.NewRequest(http.MethodGet, "/v2/library/left/manifests/1", nil).WithContext(ctx)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}()
	<-entered
	second := make(chan int, 1)
	go func() { second <- serveRaw(h, http.MethodGet, "/v2/library/left/manifests/1", nil).Code }()
	<-waiting
	cancel()
	<-first   // its pull ended as its client left
	<-entered // the second request's own pull
	close(release)
	if code := <-second; code != http.StatusNotFound {
		t.Errorf("GET waiting for a pull whose client left = %d, want the 404 of its own pull", code)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d pulls, want 2: the abandoned one and the waiter's own", n)
	}
}

// TestPullThroughPanicLands: a pull-through that panics (net/http keeps the server up) still
// ends its flight: requests for the manifest, waiting or to come, pull themselves, where they
// waited for good for a flight that never landed.
func TestPullThroughPanicLands(t *testing.T) {
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	h := New(store, Options{PullThrough: func(ctx context.Context, name, ref string) error {
		entered <- struct{}{}
		if calls.Add(1) == 1 {
			<-release
			panic("pull-through bug")
		}
		return registry.ErrNotFound
	}})
	waiting := make(chan struct{}, 4)
	h.onFlightWait = func(string) { waiting <- struct{}{} }
	get := func() (code int, panicked bool) {
		defer func() {
			if recover() != nil {
				panicked = true
			}
		}()
		return serveRaw(h, http.MethodGet, "/v2/library/p/manifests/1", nil).Code, false
	}
	first := make(chan bool, 1)
	go func() {
		_, p := get()
		first <- p
	}()
	<-entered
	second := make(chan int, 1)
	go func() {
		code, _ := get()
		second <- code
	}()
	<-waiting
	close(release)
	if !<-first {
		t.Fatal("the first request's pull did not panic")
	}
	select {
	case code := <-second:
		if code != http.StatusNotFound {
			t.Errorf("GET waiting for a pull that panicked = %d, want the 404 of its own pull", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a request waiting for a pull that panicked still waits")
	}
	if code, _ := get(); code != http.StatusNotFound {
		t.Errorf("GET after a pull that panicked = %d, want 404", code)
	}
}
