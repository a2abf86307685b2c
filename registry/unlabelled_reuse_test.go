package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUnlabelledEntryInterruptedAndReadOnce: the manifest of an index entry naming no platform
// that unlabelled read to learn its platform is not asked for again (it was, by imageFrom),
// and a pull interrupted while unlabelled reads an entry fails as every interrupted pull step
// does, "pulling REF: interrupted: …", where it returned the bare "context canceled".
func TestUnlabelledEntryInterruptedAndReadOnce(t *testing.T) {
	const (
		ociManifest = "application/vnd.oci.image.manifest.v1+json"
		ociIndex    = "application/vnd.oci.image.index.v1+json"
	)
	objs := map[string][2]string{}
	cfg := `{"architecture":"` + runtime.GOARCH + `","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`
	objs[sha256Of(cfg)] = [2]string{"application/octet-stream", cfg}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[]}`,
		ociManifest, sha256Of(cfg), len(cfg))
	objs[sha256Of(m)] = [2]string{ociManifest, m}
	objs["unlabelled"] = [2]string{ociIndex, fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s","size":%d}]}`,
		ociIndex, ociManifest, sha256Of(m), len(m))}

	var mu sync.Mutex
	gets := 0     // GETs of the entry's manifest
	hold := false // the entry's manifest is not answered until the request is cut
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		name := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		if name == sha256Of(m) && strings.Contains(r.URL.Path, "/manifests/") {
			mu.Lock()
			if r.Method == http.MethodGet {
				gets++
			}
			held := hold
			mu.Unlock()
			if held {
				select {
				case arrived <- struct{}{}:
				default:
				}
				<-r.Context().Done()
				return
			}
		}
		o, ok := objs[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", o[0])
		w.Header().Set("Content-Length", fmt.Sprint(len(o[1])))
		io.WriteString(w, o[1])
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(context.Background(), mustRef(t, host+"/a/b:unlabelled"))
	if err != nil || img.Descriptor.Digest.String() != sha256Of(m) {
		t.Fatalf("Image(unlabelled) = %v, %v; want %s", img, err, sha256Of(m))
	}
	mu.Lock()
	if gets != 1 {
		t.Errorf("the entry's manifest was asked for %d times, want once", gets)
	}
	mu.Unlock()

	mu.Lock()
	hold = true
	mu.Unlock()
	p, err = NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
		}
		cancel()
	}()
	ref := mustRef(t, host+"/a/b:unlabelled")
	_, err = p.Image(ctx, ref)
	want := "pulling " + ref.Familiar() + ": interrupted: "
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, context.Canceled) {
		t.Errorf("Image interrupted in the entry's read = %v, want %q… wrapping context.Canceled", err, want)
	}
}
