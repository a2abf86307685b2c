package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
)

// TestPushMissingBlob: a push of an image whose layer is gone from the store fails saying the
// store lacks it and how to repair it, and pushes no manifest. It said "pushing REPO: opening
// blob sha256:…: not found", in the words of a registry's refusal.
func TestPushMissingBlob(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	var manifests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			manifests.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	target := strings.TrimPrefix(srv.URL, "http://") + "/t/bb:1"
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", target); err != nil {
		t.Fatal(err)
	}
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(store.BlobPath(v1.Hash{Algorithm: "sha256", Hex: strings.TrimPrefix(busyboxLayer, "sha256:")})); err != nil {
		t.Fatal(err)
	}
	_, err = strata(t, root, nil, "push", target)
	if err == nil || !strings.Contains(err.Error(), "missing from the store") || !strings.Contains(err.Error(), "pull the image again") || !strings.Contains(err.Error(), target) {
		t.Fatalf("push of an image missing a layer = %v, want one line saying the store lacks it", err)
	}
	if n := manifests.Load(); n != 0 {
		t.Errorf("%d manifests pushed for an image missing a layer", n)
	}
}
