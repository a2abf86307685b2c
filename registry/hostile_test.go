package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// cdn is a blob host another than the registry's, as Docker Hub redirects blobs to its CDN. It
// serves from the registry's backend without auth and records the Authorization headers
// it was sent.
type cdn struct {
	backend http.Handler
	mu      sync.Mutex
	auth    []string
	hits    int
}

func (c *cdn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.hits++
	if a := r.Header.Get("Authorization"); a != "" {
		c.auth = append(c.auth, a)
	}
	c.mu.Unlock()
	c.backend.ServeHTTP(w, r)
}

// TestBlobRedirectKeepsCredentialsHome: a registry that redirects blob downloads to another
// host is followed (Docker Hub does it), but neither basic credentials nor a bearer token may
// go along: the other host could be anyone's.
func TestBlobRedirectKeepsCredentialsHome(t *testing.T) {
	tests := []struct {
		name string
		auth func(http.Handler) http.Handler
	}{
		{"basic", basicAuth("alice", "s3cret")},
		{"bearer", (&tokenServer{user: "alice", pass: "s3cret"}).wrap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backend := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
			c := &cdn{backend: backend}
			cdnSrv := httptest.NewServer(c)
			t.Cleanup(cdnSrv.Close)
			redirect := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
						http.Redirect(w, r, cdnSrv.URL+r.URL.Path, http.StatusTemporaryRedirect)
						return
					}
					next.ServeHTTP(w, r)
				})
			}
			srv := httptest.NewServer(tt.auth(redirect(backend)))
			t.Cleanup(srv.Close)
			host := strings.TrimPrefix(srv.URL, "http://")
			ref := mustRef(t, host+"/private/app:1")
			img := randomImage(t)
			if err := Push(context.Background(), ref, img, withAuth("alice", "s3cret")); err != nil {
				t.Fatalf("Push = %v", err)
			}
			p, err := NewPuller(withAuth("alice", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			got, err := p.Image(ctx, ref)
			if err != nil {
				t.Fatalf("Image = %v", err)
			}
			layers, err := got.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range layers {
				// Both ways a caller reads a blob: FetchBlob (pull) and the lazy layer.
				body, err := got.FetchBlob(ctx, digestOf(t, l), 0)
				if err != nil {
					t.Fatalf("FetchBlob through a redirect = %v", err)
				}
				_, err = io.Copy(io.Discard, body)
				body.Close()
				if err != nil {
					t.Fatal(err)
				}
				rc, err := l.Compressed()
				if err != nil {
					t.Fatalf("Compressed through a redirect = %v", err)
				}
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.hits == 0 {
				t.Fatal("no blob was fetched from the other host: the redirect was not followed")
			}
			if len(c.auth) != 0 {
				t.Errorf("the other host was sent Authorization %q", c.auth)
			}
		})
	}
}

// TestHostileAuth: a registry whose challenge or token endpoint is broken or hostile. Each pull
// fails with one line, bounded in what it reads.
func TestHostileAuth(t *testing.T) {
	huge := strings.Repeat("x", 32<<20)
	tests := []struct {
		name      string
		challenge string // WWW-Authenticate of every 401; "%s" is the server's host
		token     func(w http.ResponseWriter)
	}{
		{"bearer without realm", `Bearer service="x"`, nil},
		{"bearer with empty realm", `Bearer realm=""`, nil},
		{"bearer realm not a url", `Bearer realm="::not a url::"`, nil},
		{"bearer realm unreachable", `Bearer realm="http://127.0.0.1:1/token"`, nil},
		{"unknown scheme", `Negotiate abcdef`, nil},
		{"garbage", `=,=,"""`, nil},
		{"empty", ``, nil},
		{"huge header", `Bearer realm="http://%s/token",service="` + strings.Repeat("s", 60<<10) + `"`, nil},
		{"token not json", `Bearer realm="http://%s/token"`, func(w http.ResponseWriter) { io.WriteString(w, "<html>hello</html>") }},
		{"token of the wrong type", `Bearer realm="http://%s/token"`, func(w http.ResponseWriter) { io.WriteString(w, `{"token":5}`) }},
		{"token empty", `Bearer realm="http://%s/token"`, func(w http.ResponseWriter) { io.WriteString(w, `{}`) }},
		{"token huge", `Bearer realm="http://%s/token"`, func(w http.ResponseWriter) { io.WriteString(w, `{"token":"`+huge+`"}`) }},
		{"token huge chunked", `Bearer realm="http://%s/token"`, func(w http.ResponseWriter) {
			w.(http.Flusher).Flush()
			for range 64 {
				io.WriteString(w, huge[:1<<20])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/token" && tt.token != nil {
					tt.token(w)
					return
				}
				ch := tt.challenge
				if strings.Contains(ch, "%s") {
					ch = fmt.Sprintf(ch, r.Host)
				}
				w.Header().Set("WWW-Authenticate", ch)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			}))
			t.Cleanup(srv.Close)
			ref := mustRef(t, strings.TrimPrefix(srv.URL, "http://")+"/x/y:1")
			p, err := NewPuller(withAuth("alice", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Image(context.Background(), ref)
			if err == nil {
				t.Fatal("Image from a hostile auth server succeeded")
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || len(msg) > 4096 {
				t.Errorf("Image() = %.300q (%d bytes), want one short line", msg, len(msg))
			}
		})
	}
}

// TestManifestLies: a registry whose manifest responses lie about their length or content.
func TestManifestLies(t *testing.T) {
	img := randomImage(t)
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	other := append([]byte(nil), raw...)
	other[len(other)-2] = ' ' // still JSON, other bytes
	tests := []struct {
		name     string
		byDigest bool
		respond  func(w http.ResponseWriter)
	}{
		{"content-length shorter", false, func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "10")
			w.Write(raw)
		}},
		{"content-length longer", false, func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", strconv.Itoa(len(raw)+100))
			w.Write(raw)
		}},
		{"content-length huge, body small", false, func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", strconv.Itoa(1<<40))
			w.Write(raw)
		}},
		{"other bytes for a digest", true, func(w http.ResponseWriter) { w.Write(other) }},
		{"digest header lies for a digest", true, func(w http.ResponseWriter) {
			sum := sha256.Sum256(other)
			w.Header().Set("Docker-Content-Digest", "sha256:"+hex.EncodeToString(sum[:]))
			w.Write(other)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := serve(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodGet {
						w.Header().Set("Content-Type", string(mustMediaType(t, img)))
						tt.respond(w)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			ref := host + "/lies/app:1"
			if tt.byDigest {
				ref = host + "/lies/app@" + digestOf(t, img).String()
			}
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Image(context.Background(), mustRef(t, ref))
			if err == nil {
				t.Fatalf("Image(%s) = %v, want an error", ref, got.Descriptor.Digest)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("Image() = %q, want one line", err)
			}
		})
	}
}

// TestTagDigestFromBody: pulled by tag, the manifest's digest is the hash of the bytes that
// came, whatever Docker-Content-Digest claims: a ref stored under a digest the registry made
// up would name content that is not there.
func TestTagDigestFromBody(t *testing.T) {
	img := randomImage(t)
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Pulls only: a push answered so fails (TestPushManifestDigestLies).
			if strings.Contains(r.URL.Path, "/manifests/") && r.Method != http.MethodPut {
				w = &headerLiar{ResponseWriter: w, digest: "sha256:" + strings.Repeat("ab", 32)}
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := pushImage(t, host+"/lies/tag:1", img)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Image(context.Background(), ref)
	if err != nil {
		t.Fatalf("Image = %v", err)
	}
	if want := digestOf(t, img); got.Descriptor.Digest != want {
		t.Errorf("Image(%s).Descriptor.Digest = %s, want the body's %s", ref, got.Descriptor.Digest, want)
	}
}

// headerLiar replaces Docker-Content-Digest in what it writes.
type headerLiar struct {
	http.ResponseWriter
	digest string
}

func (h *headerLiar) WriteHeader(code int) {
	h.Header().Set("Docker-Content-Digest", h.digest)
	h.ResponseWriter.WriteHeader(code)
}

func (h *headerLiar) Write(b []byte) (int, error) {
	if h.Header().Get("Docker-Content-Digest") != h.digest {
		h.WriteHeader(http.StatusOK)
	}
	return h.ResponseWriter.Write(b)
}

func mustMediaType(t *testing.T, img v1.Image) string {
	t.Helper()
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	return string(mt)
}

// TestRegistryWordsOneLine: what a registry writes into its error bodies reaches the user's
// terminal through strata's message; newlines, escapes and megabytes of it must not.
func TestRegistryWordsOneLine(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"newlines and escapes in the message", http.StatusBadRequest, `{"errors":[{"code":"DENIED","message":"line one\nline two \u001b]0;owned\u0007 \u001b[31mred"}]}`},
		{"a huge message", http.StatusBadRequest, `{"errors":[{"code":"UNKNOWN","message":"` + strings.Repeat("m", 1<<20) + `"}]}`},
		{"plain text with newlines", http.StatusBadRequest, "oops\r\nsecond line\r\n"},
		{"unauthorized with escapes", http.StatusUnauthorized, `{"errors":[{"code":"UNAUTHORIZED","message":"\u001b[2Jcleared"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			ref := mustRef(t, strings.TrimPrefix(srv.URL, "http://")+"/x/y:1")
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Image(context.Background(), ref)
			if err == nil {
				t.Fatal("Image succeeded against an error body")
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r\x1b\x07") || len(msg) > 4096 {
				t.Errorf("Image() = %.300q (%d bytes), want one short line without control characters", msg, len(msg))
			}
		})
	}
}

// TestManifestRedirectStaysBounded: a registry that redirects a manifest to a URL of its
// choosing still cannot make strata read more than MaxManifestSize of it.
func TestManifestRedirectStaysBounded(t *testing.T) {
	big := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","x":"` + strings.Repeat("a", MaxManifestSize) + `"}`
	var served atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.(http.Flusher).Flush() // chunked: no Content-Length to refuse it by
		n, _ := io.WriteString(w, big)
		served.Add(int64(n))
	}))
	t.Cleanup(elsewhere.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		http.Redirect(w, r, elsewhere.URL+"/cdn/object", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	ref := mustRef(t, strings.TrimPrefix(srv.URL, "http://")+"/x/y:1")
	if _, err := p.Image(context.Background(), ref); !errors.Is(err, ErrManifestTooLarge) {
		t.Errorf("Image of a redirected %d-byte manifest = %v, want ErrManifestTooLarge", len(big), err)
	}
}

// TestConfigLies: a config whose bytes are not those its digest names, or that is cut short,
// is never handed out, however often it is asked for. go-containerregistry keeps what it read
// of a config even when the read failed and returns it from the next call without error.
func TestConfigLies(t *testing.T) {
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter, config []byte)
	}{
		{"other bytes", func(w http.ResponseWriter, config []byte) {
			bad := append([]byte(nil), config...)
			bad[len(bad)/2] ^= 0x20
			w.Write(bad)
		}},
		{"cut short", func(w http.ResponseWriter, config []byte) {
			w.Header().Set("Content-Length", strconv.Itoa(len(config)))
			w.Write(config[:len(config)/2])
		}},
	}
	for _, tt := range tests {
		for _, viaIndex := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/index=%v", tt.name, viaIndex), func(t *testing.T) {
				testConfigLie(t, tt.respond, viaIndex)
			})
		}
	}
}

func testConfigLie(t *testing.T, respond func(w http.ResponseWriter, config []byte), viaIndex bool) {
	img := randomImage(t)
	config, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfgDigest, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	var lie atomic.Bool
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if lie.Load() && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+cfgDigest.String()) {
				respond(w, config)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := pushImage(t, host+"/lies/config:1", img)
	if viaIndex {
		// Image does not read the config of an index's image: the pull does.
		ref = mustRef(t, host+"/lies/config:index")
		idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}})
		if err := PushIndex(context.Background(), ref, idx, testOptions()); err != nil {
			t.Fatal(err)
		}
	}
	lie.Store(true)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Image(context.Background(), ref)
	if err != nil {
		t.Logf("Image = %v", err)
		return // refused at once: fine
	}
	for i := range 3 {
		b, err := got.RawConfigFile()
		if err == nil {
			t.Fatalf("RawConfigFile call %d = %d bytes and no error, want an error", i+1, len(b))
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("RawConfigFile = %q, want one line", err)
		}
	}
}

// TestManifestWordsOneLine: what a manifest or index says of itself (its media type, the
// platforms it lists) reaches the user's terminal in strata's refusals; newlines, escapes and
// megabytes of it must not.
func TestManifestWordsOneLine(t *testing.T) {
	var many strings.Builder
	for i := range 15000 { // about 3 MiB: under the manifest limit
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":2,"platform":{"os":"os%d","architecture":"arch"}}`, hexA, i)
	}
	tests := []struct {
		name, mediaType, body string
	}{
		{"media type with escapes", "", `{"schemaVersion":2,"mediaType":"application/x\n\u001b]0;owned\u0007\u001b[2J"}`},
		{"huge media type", "", `{"schemaVersion":2,"mediaType":"` + strings.Repeat("m", 1<<20) + `"}`},
		{"platform with escapes", "application/vnd.oci.image.index.v1+json", `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + hexA + `","size":2,"platform":{"os":"linux\n\u001b[31mred","architecture":"s390x\r\u001b]0;owned\u0007","variant":"\u009b2J"}}]}`},
		{"thousands of platforms", "application/vnd.oci.image.index.v1+json", `{"schemaVersion":2,"manifests":[` + many.String() + `]}`},
		{"index digest with a newline", "application/vnd.oci.image.index.v1+json", `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:\n\u001b[2J","size":2,"platform":{"os":"linux","architecture":"amd64"}}]}`},
		{"layer digest with a newline", "application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + hexA + `","size":2},"layers":[{"mediaType":"x","digest":"sha256:\n","size":1}]}`},
		{"huge content type, body not JSON", "application/json; x=" + strings.Repeat("p", 512<<10), `<html>`},
		{"huge platform", "application/vnd.oci.image.index.v1+json", `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + hexA + `","size":2,"platform":{"os":"` + strings.Repeat("o", 1<<20) + `","architecture":"x"}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := fakeManifest(t, tt.mediaType, []byte(tt.body), false)
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Image(context.Background(), mustRef(t, host+"/x/y:1"))
			if err == nil {
				t.Fatal("Image succeeded")
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r\x1b\x07\u009b") || len(msg) > 4096 {
				t.Errorf("Image() = %.300q (%d bytes), want one short line without control characters", msg, len(msg))
			}
		})
	}
}

// TestEndlessPing: go-containerregistry reads the ping's body to its end, to reuse the
// connection; a registry whose /v2/ never ends must not keep strata reading forever.
func TestEndlessPing(t *testing.T) {
	img := randomImage(t)
	var endless atomic.Bool
	quit := make(chan struct{})
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if endless.Load() && r.URL.Path == "/v2/" {
				chunk := []byte(strings.Repeat("{}", 32<<10))
				for r.Context().Err() == nil && !isClosed(quit) {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	t.Cleanup(func() { close(quit) }) // before the server's Close, which waits for the handler
	ref := pushImage(t, host+"/endless/ping:1", img)
	endless.Store(true)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	within(t, 20*time.Second, func() {
		got, err := p.Image(context.Background(), ref)
		if err != nil {
			t.Errorf("Image behind an endless ping = %v", err)
		} else if got.Descriptor.Digest != digestOf(t, img) {
			t.Errorf("Image digest = %s, want %s", got.Descriptor.Digest, digestOf(t, img))
		}
	})
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestIndexChildKinds: what Index.Image hands out is the image manifest the index lists, by
// kind and by digest: not an ambiguous document (CVE-2021-41190), and not, in place of a
// nested index, an image from inside it (go-containerregistry's choice, another digest).
func TestIndexChildKinds(t *testing.T) {
	sum := func(b string) string {
		h := sha256.Sum256([]byte(b))
		return "sha256:" + hex.EncodeToString(h[:])
	}
	const (
		ociManifest = "application/vnd.oci.image.manifest.v1+json"
		ociIndex    = "application/vnd.oci.image.index.v1+json"
	)
	plain := `{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + emptyConfig + `","size":2},"layers":[]}`
	amd64 := `"platform":{"os":"linux","architecture":"amd64"}`
	// Both kinds' fields, each saying something: an empty list is no field (as containerd reads it).
	both := `{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + emptyConfig + `","size":2},"layers":[],"manifests":[{"mediaType":"` + ociManifest + `","digest":"` + sum(plain) + `","size":` + strconv.Itoa(len(plain)) + `,` + amd64 + `}]}`
	nested := `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[{"mediaType":"` + ociManifest + `","digest":"` + sum(plain) + `","size":` + strconv.Itoa(len(plain)) + `,` + amd64 + `}]}`
	listed := func(body string) string {
		return `{"mediaType":"` + ociManifest + `","digest":"` + sum(body) + `","size":` + strconv.Itoa(len(body)) + `,` + amd64 + `}`
	}
	bothAsIndex, nestedAsIndex := both+" ", nested+" " // listed once each, as indexes
	artifact := plain + "  "                           // listed under a kind strata does not know
	const artifactType = "application/vnd.example.artifact.v1+json"
	listedIndex := func(body string) string {
		return `{"mediaType":"` + ociIndex + `","digest":"` + sum(body) + `","size":` + strconv.Itoa(len(body)) + `,` + amd64 + `}`
	}
	top := `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[` + listed(plain) + `,` + listed(both) + `,` + listed(nested) +
		`,` + listedIndex(nestedAsIndex) + `,` + listedIndex(bothAsIndex) +
		`,{"mediaType":"` + artifactType + `","digest":"` + sum(artifact) + `","size":` + strconv.Itoa(len(artifact)) + `}]}`
	served := map[string][2]string{
		"1":                {ociIndex, top},
		sum(plain):         {ociManifest, plain},
		sum(both):          {ociManifest, both},
		sum(nested):        {ociIndex, nested},
		sum(bothAsIndex):   {ociIndex, bothAsIndex},
		sum(nestedAsIndex): {ociIndex, nestedAsIndex},
		sum(artifact):      {artifactType, artifact},
		emptyConfig:        {"application/octet-stream", "{}"},
	}
	host := servedObjects(t, served)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.Index(context.Background(), mustRef(t, host+"/x/y:1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idx.Image(v1.Hash{Algorithm: "sha256", Hex: sum(plain)[7:]}); err != nil {
		t.Errorf("Index.Image(an image manifest) = %v", err)
	}
	if _, err := idx.Image(v1.Hash{Algorithm: "sha256", Hex: sum(artifact)[7:]}); err != nil {
		t.Errorf("Index.Image(an artifact) = %v, want it read as an image manifest, as before", err)
	}
	if _, err := idx.ImageIndex(v1.Hash{Algorithm: "sha256", Hex: sum(nestedAsIndex)[7:]}); err != nil {
		t.Errorf("Index.ImageIndex(an index) = %v", err)
	}
	if _, err := idx.ImageIndex(v1.Hash{Algorithm: "sha256", Hex: sum(bothAsIndex)[7:]}); !errors.Is(err, ErrUnsupportedMediaType) {
		t.Errorf("Index.ImageIndex(both kinds) = %v, want ErrUnsupportedMediaType", err)
	}
	for name, body := range map[string]string{"both kinds": both, "a nested index": nested} {
		h := v1.Hash{Algorithm: "sha256", Hex: sum(body)[7:]}
		img, err := idx.Image(h)
		if err == nil {
			got, _ := img.Digest()
			t.Errorf("Index.Image(%s) = an image %s, want ErrUnsupportedMediaType", name, got)
		} else if !errors.Is(err, ErrUnsupportedMediaType) {
			t.Errorf("Index.Image(%s) = %v, want ErrUnsupportedMediaType", name, err)
		}
	}
}

// TestConfigContentLengthWorded: a config whose Content-Length is not the size its manifest
// gives fails, as a layer's does, saying so of the config and the image: it said
// go-containerregistry's "GET http://HOST/v2/lies/config/blobs/sha256:<64 hex>: Content-Length
// header N does not match expected size M", the request's whole URL and neither.
func TestConfigContentLengthWorded(t *testing.T) {
	for name, delta := range map[string]int{"longer": 10, "shorter": -10} {
		t.Run(name, func(t *testing.T) {
			img := randomImage(t)
			cfgDigest, err := img.ConfigName()
			if err != nil {
				t.Fatal(err)
			}
			config, err := img.RawConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			var lie atomic.Bool
			host := serve(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if lie.Load() && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+cfgDigest.String()) {
						w.Header().Set("Content-Length", strconv.Itoa(len(config)+delta))
						w.Write(config[:min(len(config), len(config)+delta)])
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			ref := pushImage(t, host+"/lies/config:1", img)
			lie.Store(true)
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Image(context.Background(), ref)
			if err == nil {
				_, err = got.RawConfigFile()
			}
			want := fmt.Sprintf("config %s of %s from %s: size mismatch: the registry says it is %d bytes, the manifest gives %d",
				cfgDigest.String()[:19], ref, host, len(config)+delta, len(config))
			if err == nil || err.Error() != want {
				t.Errorf("config with a Content-Length of %d bytes for %d = %v, want %q", len(config)+delta, len(config), err, want)
			}
		})
	}
}
