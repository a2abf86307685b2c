package serve

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestServeOutOfDescriptors: a server out of file descriptors (a burst of clients, each
// holding a connection up to the limit) cannot open a blob or a manifest that is whole in the
// store. It answered the manifest 404 MANIFEST_UNKNOWN, which docker takes as final ("manifest
// unknown"), and the blob 404 BLOB_UNKNOWN when the manifests it is reached through could not
// be read, else 500 "damaged in the store; pull the image again", telling the server nothing. Both are now a 500 that says the store could not be read, which clients retry, with
// the reason given to OnStoreError; and once descriptors are free again both are served.
func TestServeOutOfDescriptors(t *testing.T) {
	store, manifest, layer := hostileStore(t)
	var mu sync.Mutex
	var told []string
	s := New(store, Options{OnStoreError: func(err error) {
		mu.Lock()
		told = append(told, err.Error())
		mu.Unlock()
	}})
	paths := []string{
		"/v2/library/img/manifests/1",
		"/v2/library/img/manifests/" + manifest.String(),
		"/v2/library/img/blobs/" + layer.String(),
	}
	for _, p := range paths {
		if rec := serveRaw(s, http.MethodGet, p, nil); rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d %s before the descriptors ran out", p, rec.Code, rec.Body)
		}
	}
	// A fresh server, which has not verified the blob yet, as after a restart, and whose
	// view of the store is kept: index.json is not new.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(store.Dir(), "index.json"), old, old); err != nil {
		t.Fatal(err)
	}
	warm := s
	s = New(store, Options{OnStoreError: s.opts.OnStoreError})
	for _, srv := range []*Server{warm, s} {
		if rec := serveRaw(srv, http.MethodGet, "/v2/_catalog", nil); rec.Code != http.StatusOK {
			t.Fatalf("GET /v2/_catalog = %d", rec.Code)
		}
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	var was syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &was); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		code int
		body string
	}
	got := map[string]answer{}
	low := was
	low.Cur = uint64(len(fds) + 16)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip("cannot lower RLIMIT_NOFILE:", err)
	}
	// Every descriptor below the limit in use: the next open fails with EMFILE.
	var held []int
	for {
		fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		held = append(held, fd)
	}
	for i, srv := range []*Server{warm, s} {
		// The warm server knows what the image reaches and has verified the blob: only the
		// open of each file fails. The fresh one cannot read the manifests it walks either.
		for _, p := range paths {
			for _, rng := range []string{"", "bytes=0-9"} {
				rec := serveRaw(srv, http.MethodGet, p, http.Header{"Range": {rng}})
				got[fmt.Sprintf("%s %s (server %d)", p, rng, i)] = answer{rec.Code, rec.Body.String()}
			}
		}
	}
	for _, fd := range held {
		syscall.Close(fd)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &was); err != nil {
		t.Fatal(err)
	}
	for k, a := range got {
		if a.code != http.StatusInternalServerError || !strings.Contains(a.body, "could not be read from the store") || strings.Contains(a.body, store.Dir()) {
			t.Errorf("GET %s out of descriptors = %d %s; want a 500 saying the store could not be read, without its paths", k, a.code, a.body)
		}
	}
	mu.Lock()
	if reasons := strings.Join(told, "\n"); !strings.Contains(reasons, "too many open files") {
		t.Errorf("OnStoreError was told %q; want the reason", reasons)
	}
	mu.Unlock()
	for _, p := range paths {
		if rec := serveRaw(s, http.MethodGet, p, nil); rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d %s once descriptors are free again", p, rec.Code, rec.Body)
		}
	}
}
