package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// emptyConfig is the digest of the 2-byte config "{}", which fakeManifest serves.
const emptyConfig = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

// fakeManifest serves one manifest body with a Content-Type at every tag, the config
// emptyConfig, and a 200 ping. With chunked set, it sends no Content-Length.
func fakeManifest(t *testing.T, mediaType string, body []byte, chunked bool) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		if strings.HasSuffix(r.URL.Path, "/blobs/"+emptyConfig) {
			w.Write([]byte("{}"))
			return
		}
		if !strings.Contains(r.URL.Path, "/manifests/") {
			http.NotFound(w, r)
			return
		}
		if mediaType != "" {
			w.Header().Set("Content-Type", mediaType)
		}
		if !chunked {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		}
		if r.Method == http.MethodHead {
			return
		}
		for b := body; len(b) > 0; {
			n := min(len(b), 64<<10)
			if _, err := w.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
			if chunked {
				w.(http.Flusher).Flush()
			}
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestManifestRefused(t *testing.T) {
	big := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"x":"` +
		strings.Repeat("a", MaxManifestSize) + `"}}`)
	schema1 := []byte(`{"schemaVersion":1,"name":"x","tag":"1","fsLayers":[],"history":[]}`)
	tests := []struct {
		name      string
		mediaType string
		body      []byte
		chunked   bool
		want      error
	}{
		{"over 4 MiB with Content-Length", string(types.OCIManifestSchema1), big, false, ErrManifestTooLarge},
		{"over 4 MiB chunked", string(types.OCIManifestSchema1), big, true, ErrManifestTooLarge},
		{"schema1 signed", string(types.DockerManifestSchema1Signed), schema1, false, ErrSchema1},
		{"schema1 unsigned", string(types.DockerManifestSchema1), schema1, false, ErrSchema1},
		{"schema1 without a content type", "", schema1, false, ErrSchema1},
		{"schema1 as text/plain", "text/plain", schema1, false, ErrSchema1},
		{"config claims a terabyte", string(types.OCIManifestSchema1), []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + hexA + `","size":1099511627776},"layers":[]}`), false, ErrManifestTooLarge},
		// CVE-2021-41190: a body read as one kind here and as another by a client that trusts it.
		{"an index served as an image manifest", string(types.OCIManifestSchema1), []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + hexA + `","size":2}]}`), false, ErrUnsupportedMediaType},
		{"an image manifest served as an index", string(types.OCIImageIndex), []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + emptyConfig + `","size":2},"layers":[]}`), false, ErrUnsupportedMediaType},
		{"both kinds as an index", string(types.OCIImageIndex), []byte(`{"schemaVersion":2,"manifests":[],"layers":[{"mediaType":"x","digest":"sha256:` + hexA + `","size":1}]}`), false, ErrUnsupportedMediaType},
		{"both kinds as a Docker manifest", string(types.DockerManifestSchema2), []byte(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"` + emptyConfig + `","size":2},"layers":[],"manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:` + hexA + `","size":2,"platform":{"os":"linux","architecture":"amd64"}}]}`), false, ErrUnsupportedMediaType},
		{"both kinds, no content type", "", []byte(`{"schemaVersion":2,"manifests":[],"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + emptyConfig + `","size":2},"layers":[]}`), false, ErrUnsupportedMediaType},
		{"an artifact type", "application/vnd.example.thing+json", []byte(`{}`), false, ErrUnsupportedMediaType},
		{"not json", "", []byte(`<html>`), false, ErrUnsupportedMediaType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := fakeManifest(t, tt.mediaType, tt.body, tt.chunked)
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			ref := mustRef(t, host+"/fake/img:1")
			_, err = p.Image(context.Background(), ref)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Image(%s) = %v, want %v", ref, err, tt.want)
			}
			if strings.Contains(err.Error(), "http://") || len(err.Error()) > 300 {
				t.Errorf("Image(%s) error is not one clean line: %q", ref, err)
			}
		})
	}
}

func TestManifestAtTheLimit(t *testing.T) {
	// Exactly MaxManifestSize bytes is allowed; the limit refuses only what is over it.
	prefix := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + emptyConfig + `","size":2},"layers":[],"annotations":{"x":"`
	suffix := `"}}`
	body := []byte(prefix + strings.Repeat("a", MaxManifestSize-len(prefix)-len(suffix)) + suffix)
	for _, chunked := range []bool{false, true} {
		host := fakeManifest(t, string(types.OCIManifestSchema1), body, chunked)
		p, err := NewPuller(testOptions())
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Image(context.Background(), mustRef(t, host+"/fake/img:1"))
		if err != nil || got.Descriptor.Size != MaxManifestSize {
			t.Errorf("Image of a %d-byte manifest (chunked %v) = %v, want it accepted", len(body), chunked, err)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	host := serve(t, nil)
	pushImage(t, host+"/exists/app:1", randomImage(t))
	dead := deadHost(t)
	tests := []struct {
		ref  string
		want error
		msg  string
	}{
		{host + "/exists/app:2", ErrNotFound, "manifest for " + host + "/exists/app:2 not found"},
		{host + "/nope/app:1", ErrNotFound, "manifest for " + host + "/nope/app:1 not found"},
		{dead + "/x/y:1", ErrUnreachable, "registry " + dead + ": connection refused"},
		// How a lookup fails depends on the machine's resolver; the message must name the host.
		{"registry.invalid/x/y:1", ErrUnreachable, "registry registry.invalid: "},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Image(context.Background(), mustRef(t, tt.ref))
			if !errors.Is(err, tt.want) || !(err.Error() == tt.msg || strings.HasSuffix(tt.msg, ": ") && strings.HasPrefix(err.Error(), tt.msg)) {
				t.Errorf("Image(%s) = %q, want %q (%v)", tt.ref, err, tt.msg, tt.want)
			}
		})
	}
}

// jsonContentType makes manifest responses say application/json, as static-file registries do.
func jsonContentType(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
			w = &typeRewriter{ResponseWriter: w}
		}
		next.ServeHTTP(w, r)
	})
}

type typeRewriter struct{ http.ResponseWriter }

func (tw *typeRewriter) WriteHeader(code int) {
	tw.Header().Set("Content-Type", "application/json")
	tw.ResponseWriter.WriteHeader(code)
}

func TestManifestTypeFromBody(t *testing.T) {
	host := serve(t, nil)
	img := randomImage(t)
	pushImage(t, host+"/sniff/app:1", img)
	inner := randomImage(t)
	nested := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{
		Add:        mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: inner, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}}),
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}},
	})
	if err := PushIndex(context.Background(), mustRef(t, host+"/sniff/nested:1"), nested, testOptions()); err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(jsonContentType(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(&url.URL{Scheme: "http", Host: host})
	}}))
	t.Cleanup(proxy.Close)
	phost := strings.TrimPrefix(proxy.URL, "http://")

	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Image(context.Background(), mustRef(t, phost+"/sniff/app:1"))
	if err != nil || got.Descriptor.Digest != digestOf(t, img) || got.Descriptor.MediaType != types.OCIManifestSchema1 && got.Descriptor.MediaType != types.DockerManifestSchema2 {
		t.Errorf("Image of a manifest sent as application/json = %v, %v", got, err)
	}
	if _, err := p.Image(context.Background(), mustRef(t, host+"/sniff/nested:1")); !errors.Is(err, ErrUnsupportedMediaType) {
		t.Errorf("Image of an index inside an index = %v, want ErrUnsupportedMediaType", err)
	}
}

// TestManifestEmpty: a registry that answers a manifest GET with an empty body gets one
// clear line, as crane's and docker's clients say it, not the JSON decoder's "EOF" (or,
// without a media type, "the body is not JSON").
func TestManifestEmpty(t *testing.T) {
	for _, mt := range []string{string(types.OCIManifestSchema1), string(types.DockerManifestSchema2), string(types.OCIImageIndex), ""} {
		for _, chunked := range []bool{false, true} {
			host := fakeManifest(t, mt, nil, chunked)
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			ref := mustRef(t, host+"/fake/img:1")
			_, ierr := p.Image(context.Background(), ref)
			_, xerr := p.Index(context.Background(), ref)
			for _, err := range []error{ierr, xerr} {
				want := "manifest for " + ref.String() + " from " + host + " is empty"
				if err == nil || err.Error() != want {
					t.Errorf("%q (chunked %v): %v, want %q", mt, chunked, err, want)
				}
			}
		}
	}
}
