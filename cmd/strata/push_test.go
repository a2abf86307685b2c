package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testimages"
)

// busyboxLayer is the one layer of the busybox fixture.
const busyboxLayer = "sha256:5c3b447848a98e48dce106cb3e6acbd4fb6f9b26ee778798137349ce01f4d3c1"

// lyingRegistry accepts every upload without checking its digest, as a careless or hostile
// registry may, and records how many bytes each committed blob got.
type lyingRegistry struct {
	mu        sync.Mutex
	uploaded  map[string]int64 // upload id → bytes received
	committed map[string]int64 // digest → bytes
	manifests int
}

func (r *lyingRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := req.URL.Path
	n, _ := io.Copy(io.Discard, req.Body)
	switch {
	case p == "/v2/":
	case strings.Contains(p, "/blobs/uploads/") && req.Method == http.MethodPost:
		w.Header().Set("Location", fmt.Sprintf("/v2/t/bb/blobs/uploads/%d", len(r.uploaded)))
		r.uploaded[fmt.Sprint(len(r.uploaded))] = 0
		w.WriteHeader(http.StatusAccepted)
	case strings.Contains(p, "/blobs/uploads/"):
		id := p[strings.LastIndex(p, "/")+1:]
		r.uploaded[id] += n
		if req.Method == http.MethodPut {
			r.committed[req.URL.Query().Get("digest")] = r.uploaded[id]
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.Header().Set("Location", p)
		w.Header().Set("Range", fmt.Sprintf("0-%d", r.uploaded[id]-1))
		w.WriteHeader(http.StatusAccepted)
	case strings.Contains(p, "/blobs/"):
		d := p[strings.LastIndex(p, "/")+1:]
		if _, ok := r.committed[d]; !ok || d == busyboxLayer {
			w.WriteHeader(http.StatusNotFound)
		}
	case strings.Contains(p, "/manifests/") && req.Method == http.MethodPut:
		r.manifests++
		w.WriteHeader(http.StatusCreated)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// TestPushDamagedBlob: a push of an image whose layer is damaged in the store fails, saying
// so, and even a registry that checks nothing gets neither the damaged layer whole nor a
// manifest; for a single image and for an index.
func TestPushDamagedBlob(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	tests := []struct {
		name   string
		layout func(t *testing.T) string
	}{
		{"image", busyboxLayout},
		{"index", func(t *testing.T) string {
			td, err := testimages.Dir()
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "layout")
			if err := testimages.WriteLayout(td, dir); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if _, err := strata(t, root, nil, "load", "-q", "-i", tt.layout(t)); err != nil {
				t.Fatal(err)
			}
			blob := filepath.Join(root, "oci", "blobs", "sha256", strings.TrimPrefix(busyboxLayer, "sha256:"))
			b, err := os.ReadFile(blob)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0xff
			if err := os.WriteFile(blob, b, 0o644); err != nil {
				t.Fatal(err)
			}
			reg := &lyingRegistry{uploaded: map[string]int64{}, committed: map[string]int64{}}
			srv := httptest.NewServer(reg)
			defer srv.Close()
			target := strings.TrimPrefix(srv.URL, "http://") + "/t/bb:1"
			if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", target); err != nil {
				t.Fatal(err)
			}
			_, err = strata(t, root, nil, "push", target)
			if !errors.Is(err, cache.ErrDigestMismatch) || !strings.Contains(err.Error(), "damaged") {
				t.Errorf("push of a damaged image = %v, want a digest mismatch saying the image is damaged", err)
			}
			reg.mu.Lock()
			defer reg.mu.Unlock()
			if n, ok := reg.committed[busyboxLayer]; ok {
				t.Errorf("the damaged layer was committed to the registry (%d bytes)", n)
			}
			for id, n := range reg.uploaded {
				if n >= int64(len(b)) {
					t.Errorf("upload %s got %d bytes: the damaged layer was sent whole", id, n)
				}
			}
			if reg.manifests != 0 {
				t.Errorf("%d manifests pushed for an image with a damaged layer", reg.manifests)
			}
		})
	}
}

// TestPushRefusedClaimsNothing: a registry that takes the layers and refuses the manifest fails
// the push in one line, and strata claims nothing: no "digest:" line, and the stored name is
// not marked as the registry's (a later pull would take it for up to date).
func TestPushRefusedClaimsNothing(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			http.Error(w, `{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"OCI\nmanifests are not accepted"}]}`, http.StatusBadRequest)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	target := strings.TrimPrefix(srv.URL, "http://") + "/t/bb:1"
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", target); err != nil {
		t.Fatal(err)
	}
	out, err := strata(t, root, nil, "push", target)
	if err == nil || strings.ContainsAny(err.Error(), "\n\r") || !strings.Contains(err.Error(), "manifest invalid") {
		t.Fatalf("push refused its manifest = %v, want one line saying the manifest is invalid", err)
	}
	if strings.Contains(out, "digest:") {
		t.Errorf("a refused push printed %q", out)
	}
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	desc, err := store.Resolve(target)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := desc.Annotations[rootDigestAnnotation]; ok {
		t.Errorf("a refused push marked %s as the registry's: %v", target, desc.Annotations)
	}
}
