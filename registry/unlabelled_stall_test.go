package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestUnlabelledStallStops: an index whose entries name no platform, on a registry that stalls
// on their manifests, fails the pull as timed out after the first entry, not after
// maxUnlabelled of them, each waiting out the stall twice (a quarter of an hour at the
// default minute), and not as "no matching manifest … (available: none)", which blamed the
// index for the registry's silence.
func TestUnlabelledStallStops(t *testing.T) {
	const ociManifest = "application/vnd.oci.image.manifest.v1+json"
	var entries []string
	for i := range maxUnlabelled {
		body := `{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + emptyConfig + `","size":2},"layers":[],"annotations":{"n":"` + strconv.Itoa(i) + `"}}`
		h := sha256.Sum256([]byte(body))
		entries = append(entries, `{"mediaType":"`+ociManifest+`","digest":"sha256:`+hex.EncodeToString(h[:])+`","size":`+strconv.Itoa(len(body))+`}`)
	}
	index := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + strings.Join(entries, ",") + `]}`
	var reads atomic.Int64
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
		case strings.HasSuffix(r.URL.Path, "/manifests/1"):
			w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
			io.WriteString(w, index)
		case strings.Contains(r.URL.Path, "/manifests/sha256:"):
			reads.Add(1)
			stallHere(t, r, quit)
		default:
			http.NotFound(w, r)
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
	within(t, 10*time.Second, func() {
		_, err = p.Image(context.Background(), mustRef(t, strings.TrimPrefix(srv.URL, "http://")+"/x/y:1"))
	})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("Image() = %v, want the registry's stall (ErrUnreachable, timed out)", err)
	}
	if n := reads.Load(); n > int64(stallRetry.attempts) {
		t.Errorf("Image() asked for %d manifests of a stalled registry, want the first entry's only (%d attempts)", n, stallRetry.attempts)
	}
}
