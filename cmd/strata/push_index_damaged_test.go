package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/registry"
)

// TestPushDamagedIndex: a stored index whose bytes were damaged on disk, in a way that still
// parses, is not pushed: the push fails saying the image is damaged, and the registry gets no
// manifest under the tag. The index was read through go-containerregistry's layout package,
// unverified, and went up as it was, while strata printed (and recorded as the registry's) the
// stored digest. A sound index pushes, under its stored digest.
func TestPushDamagedIndex(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := testimages.AlpineIndex(td, testimages.AlpineVersion)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	root := t.TempDir()
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := store.WriteIndex(ctx, host+"/t/idx:sound", idx, cache.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	digest := res.Manifest.Digest
	if err := store.Tag(host+"/t/idx:damaged", res.Manifest); err != nil {
		t.Fatal(err)
	}
	p, err := registry.NewPuller(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	head := func(ref string) (string, error) {
		r, err := registry.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		d, err := p.Head(ctx, r)
		return d.Digest.String(), err
	}

	if out, err := strata(t, root, nil, "push", host+"/t/idx:sound"); err != nil {
		t.Fatalf("push of a sound index = %q, %v", out, err)
	}
	if got, err := head(host + "/t/idx:sound"); err != nil || got != digest.String() {
		t.Fatalf("the registry has %s for the sound index (%v), want %s", got, err, digest)
	}

	path := store.BlobPath(digest)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Replace(b, []byte(`"os":"linux"`), []byte(`"os":"linuy"`), 1)
	if bytes.Equal(damaged, b) {
		t.Fatalf("the index has no %q to damage: %s", `"os":"linux"`, b)
	}
	if err := os.WriteFile(path, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := strata(t, root, nil, "push", host+"/t/idx:damaged")
	if err == nil || !strings.Contains(err.Error(), "damaged") || strings.ContainsAny(err.Error(), "\n\r") {
		t.Errorf("push of a damaged index = %q, %v; want one line saying it is damaged", out, err)
	}
	if got, err := head(host + "/t/idx:damaged"); err == nil {
		t.Errorf("the push of a damaged index left %s under the tag", got)
	}
}
