package integration

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/internal/testutil"
)

// TestPullFaults feeds strata every bad input and registry fault issue 3 lists. Each must
// end in one line on stderr saying what went wrong, a non-zero status, and a store that holds
// only complete blobs.
func TestPullFaults(t *testing.T) {
	t.Parallel() // each test has its own registry, root and HOME
	testutil.Requires(t, testutil.Root)
	small := randomImage(t, 64<<10)
	f := startFront(t, frontAuth{}, func(ctx context.Context, host string) error {
		for _, tag := range []string{"corrupt", "long", "short", "artifact", "schema1", "flaky", "limited", "broken"} {
			if err := push(ctx, host, "test/small:"+tag, small); err != nil {
				return err
			}
		}
		return nil
	})
	layer := layerDigests(t, small)[0]
	env := testEnv(t.TempDir())
	alpine := f.Host + "/library/alpine:" + testimages.AlpineVersion
	refused := freePort(t) // nothing listens there once freePort returns

	// Requests for test/small:<tag> get the fault named by the tag; the manifest of
	// test/huge is 5 MiB. Blob faults apply to the layer of test/small.
	var layerFault string
	f.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		p := r.URL.Path
		switch {
		case strings.HasSuffix(p, "/test/small/manifests/limited"):
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`, http.StatusTooManyRequests)
			return true
		case strings.HasSuffix(p, "/test/small/manifests/flaky"):
			http.Error(w, "upstream is down", http.StatusServiceUnavailable)
			return true
		case strings.HasSuffix(p, "/test/small/manifests/artifact"):
			return serveManifest(f, w, r, "application/vnd.example.artifact.v1+json", nil)
		case strings.HasSuffix(p, "/test/small/manifests/schema1"):
			return serveManifest(f, w, r, "application/vnd.docker.distribution.manifest.v1+prettyjws",
				[]byte(`{"schemaVersion":1,"name":"test/small","tag":"schema1","fsLayers":[],"history":[]}`))
		case strings.HasSuffix(p, "/test/huge/manifests/1"):
			body := append([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"pad":"`),
				bytes.Repeat([]byte("x"), 5<<20)...)
			return serveManifest(f, w, r, "application/vnd.oci.image.manifest.v1+json", append(body, `"}}`...))
		case strings.HasSuffix(p, "/test/small/manifests/corrupt"), strings.HasSuffix(p, "/test/small/manifests/long"), strings.HasSuffix(p, "/test/small/manifests/short"):
			layerFault = p[strings.LastIndex(p, "/")+1:]
			return false
		case blobDigest(r) == layer && layerFault != "":
			resp, body, err := f.fetchUpstream(r)
			if err != nil || resp.StatusCode != http.StatusOK {
				http.Error(w, fmt.Sprint("fetching upstream: ", err), http.StatusBadGateway)
				return true
			}
			switch layerFault {
			case "corrupt":
				body[len(body)/2] ^= 0xff
			case "long":
				body = append(body, "sixteen more b.."...)
			case "short":
				// The registry says the blob ends early, and keeps saying so on resume.
				body = body[:len(body)-100]
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body)
			return true
		}
		return false
	})

	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"malformed reference", []string{"pull", "Not/Valid::ref"}, []string{"invalid reference format"}},
		{"unknown host", []string{"pull", "nosuch.invalid/library/alpine:1"}, []string{"unknown host nosuch.invalid"}},
		{"connection refused", []string{"pull", refused + "/library/alpine:1"}, []string{"connection refused"}},
		{"not found", []string{"pull", f.Host + "/library/nosuch:1"}, []string{"manifest for " + f.Host + "/library/nosuch:1 not found"}},
		{"too many requests", []string{"pull", f.Host + "/test/small:limited"}, []string{"too many requests"}},
		{"server error after retries", []string{"pull", f.Host + "/test/small:flaky"}, []string{"503"}},
		{"digest mismatch", []string{"pull", f.Host + "/test/small:corrupt"}, []string{short(layer), "digest"}},
		{"too long", []string{"pull", f.Host + "/test/small:long"}, []string{short(layer), "size mismatch"}},
		{"too short", []string{"pull", f.Host + "/test/small:short"}, []string{short(layer)}},
		{"unsupported media type", []string{"pull", f.Host + "/test/small:artifact"}, []string{"unsupported media type", "application/vnd.example.artifact.v1+json"}},
		{"schema 1", []string{"pull", f.Host + "/test/small:schema1"}, []string{"schema 1"}},
		{"manifest over 4 MiB", []string{"pull", f.Host + "/test/huge:1"}, []string{"4 MiB"}},
		{"no matching platform", []string{"pull", "--platform", "linux/s390x", alpine}, []string{"linux/s390x", "linux/amd64", "linux/arm64"}},
		{"bad platform", []string{"pull", "--platform", "linux/", alpine}, []string{"platform"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot(t)
			f.Reset()
			r := run(t, env, "", root, tc.args...)
			t.Logf("strata %s: %s", strings.Join(tc.args, " "), r.Stderr)
			for _, w := range tc.want {
				checkFailed(t, r, w)
			}
			checkStoreComplete(t, root)
			if blobs := storeBlobs(t, root); blobs[layer] {
				t.Errorf("the faulty layer %s is in the store", layer)
			}
			if tc.name == "digest mismatch" {
				partial := filepath.Join(root, "oci", "ingest", strings.TrimPrefix(layer, "sha256:")+".partial")
				if _, err := os.Stat(partial); !os.IsNotExist(err) {
					t.Errorf("a blob that failed its digest left %s: %v", partial, err)
				}
			}
			if tc.name == "too many requests" {
				if n := f.Count("/manifests/limited"); n < 2 {
					t.Errorf("429 was tried %d times, want retries", n)
				}
			}
		})
	}
}

// short is the 12-hex form strata names blobs by in messages.
func short(digest string) string {
	return strings.TrimPrefix(digest, "sha256:")[:12]
}

// serveManifest answers a manifest request with the upstream manifest of the same request,
// or with body, under Content-Type mt.
func serveManifest(f *front, w http.ResponseWriter, r *http.Request, mt string, body []byte) bool {
	if body == nil {
		resp, b, err := f.fetchUpstream(r)
		if err != nil || resp.StatusCode != http.StatusOK {
			http.Error(w, fmt.Sprint("fetching upstream: ", err), http.StatusBadGateway)
			return true
		}
		body = b
	}
	w.Header().Set("Content-Type", mt)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.Header().Set("Docker-Content-Digest", "sha256:"+sha256Hex(body))
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return true
}
