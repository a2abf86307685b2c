package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// manifestCounter counts the Manifest calls of the image it wraps.
type manifestCounter struct {
	v1.Image
	n atomic.Int64
}

func (m *manifestCounter) Manifest() (*v1.Manifest, error) {
	m.n.Add(1)
	return m.Image.Manifest()
}

// TestFetchBlobReadsManifestOnce: go-containerregistry parses the manifest again on every
// Manifest call. FetchBlob looked each blob's size up that way, so a pull of a manifest of
// 20,000 layers (3 MB, under MaxManifestSize) parsed 3 MB 20,000 times: minutes of CPU that
// the registry chose. The sizes are read once, when the image is resolved.
func TestFetchBlobReadsManifestOnce(t *testing.T) {
	img, err := random.Image(64, 30)
	if err != nil {
		t.Fatal(err)
	}
	ref := pushImage(t, serve(t, nil)+"/many/layers:1", img)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := p.Image(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	m, err := got.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	counted := &manifestCounter{Image: got.Image}
	got.Image = counted
	for _, l := range m.Layers {
		// From an offset: the Range is closed with the size the manifest gives.
		body, err := got.FetchBlob(ctx, l.Digest, 1)
		if err != nil {
			t.Fatalf("FetchBlob(%s, 1) = %v", l.Digest, err)
		}
		b, err := io.ReadAll(body)
		body.Close()
		if err != nil || int64(len(b)) != l.Size-1 {
			t.Fatalf("FetchBlob(%s, 1) read %d bytes, %v; want %d", l.Digest, len(b), err, l.Size-1)
		}
	}
	if n := counted.n.Load(); n != 0 {
		t.Errorf("FetchBlob of %d layers parsed the manifest %d times, want 0", len(m.Layers), n)
	}
}

// servedObjects is a registry answering from a map: the last element of a request's path (a
// tag or a digest) to its Content-Type and body.
func servedObjects(t *testing.T, objs map[string][2]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		o, ok := objs[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", o[0])
		w.Header().Set("Content-Length", fmt.Sprint(len(o[1])))
		io.WriteString(w, o[1])
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func sha256Of(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TestManyValuesRefused: a manifest, index or config of a few MB can hold millions of empty
// values ({} layers, {} history entries), each of which costs a hundred bytes and more once
// parsed: 1 GB for a 4 MiB manifest, 2.4 GB for a 16 MiB config. They are refused before
// they are parsed, whichever way they are reached.
func TestManyValuesRefused(t *testing.T) {
	const (
		ociManifest = "application/vnd.oci.image.manifest.v1+json"
		ociIndex    = "application/vnd.oci.image.index.v1+json"
	)
	empties := strings.TrimSuffix(strings.Repeat("{},", maxJSONValues), ",") // 2 values each
	manifest := func(config string, layers string) string {
		return `{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
			sha256Of(config) + `","size":` + fmt.Sprint(len(config)) + `},"layers":[` + layers + `]}`
	}
	index := func(manifests string) string {
		return `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[` + manifests + `]}`
	}
	listed := func(mt, body string) string {
		return `{"mediaType":"` + mt + `","digest":"` + sha256Of(body) + `","size":` + fmt.Sprint(len(body)) +
			`,"platform":{"os":"linux","architecture":"` + runtime.GOARCH + `"}}`
	}
	config := `{"architecture":"` + runtime.GOARCH + `","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`
	hugeConfig := `{"architecture":"` + runtime.GOARCH + `","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"history":[` + empties + `]}`
	manyLayers := manifest(config, empties)
	manyHistory := manifest(hugeConfig, "")
	nestedMany := index(empties)
	tests := []struct {
		name  string
		root  [2]string
		index bool // pulled whole, as pull --all-platforms, reading every child
	}{
		{"manifest of empty layers", [2]string{ociManifest, manyLayers}, false},
		{"index of empty manifests", [2]string{ociIndex, nestedMany}, false},
		{"index of empty manifests, whole", [2]string{ociIndex, nestedMany}, true},
		{"config of empty history entries", [2]string{ociManifest, manyHistory}, false},
		{"platform manifest of empty layers", [2]string{ociIndex, index(listed(ociManifest, manyLayers))}, false},
		{"platform manifest of empty layers, whole", [2]string{ociIndex, index(listed(ociManifest, manyLayers))}, true},
		{"nested index of empty manifests, whole", [2]string{ociIndex, index(listed(ociIndex, nestedMany))}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := servedObjects(t, map[string][2]string{
				"1":                  tt.root,
				sha256Of(manyLayers): {ociManifest, manyLayers},
				sha256Of(nestedMany): {ociIndex, nestedMany},
				sha256Of(config):     {"application/octet-stream", config},
				sha256Of(hugeConfig): {"application/octet-stream", hugeConfig},
			})
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			ref := mustRef(t, host+"/many/values:1")
			if !tt.index {
				if _, err := p.Image(context.Background(), ref); !errors.Is(err, ErrManifestTooLarge) {
					t.Errorf("Image = %.200v, want ErrManifestTooLarge", err)
				}
				return
			}
			idx, err := p.Index(context.Background(), ref)
			if err == nil {
				im, ierr := idx.IndexManifest()
				if ierr != nil {
					t.Fatal(ierr)
				}
				d := im.Manifests[0]
				if d.MediaType.IsIndex() {
					_, err = idx.ImageIndex(d.Digest)
				} else {
					_, err = idx.Image(d.Digest)
				}
			}
			if !errors.Is(err, ErrManifestTooLarge) {
				t.Errorf("Index and its child = %.200v, want ErrManifestTooLarge", err)
			}
		})
	}
}

// TestOwnMediaTypeWins: a registry whose Content-Type names the other format of the same kind
// than the manifest's own mediaType (Docker's for an OCI manifest, or the reverse; the same
// for indexes). The store kept the header's type for the manifest and `serve` sent it back,
// and docker refuses a manifest whose Content-Type and mediaType disagree. The body is what
// the digest covers: its type wins. A body that names no type keeps the header's, and one of
// the other kind is refused as before.
func TestOwnMediaTypeWins(t *testing.T) {
	const (
		ociManifest    = string(types.OCIManifestSchema1)
		dockerManifest = string(types.DockerManifestSchema2)
		ociIndex       = string(types.OCIImageIndex)
		dockerList     = string(types.DockerManifestList)
	)
	config := `{"architecture":"` + runtime.GOARCH + `","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`
	manifest := func(mt string) string {
		own := ""
		if mt != "" {
			own = `"mediaType":"` + mt + `",`
		}
		return `{"schemaVersion":2,` + own + `"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
			sha256Of(config) + `","size":` + fmt.Sprint(len(config)) + `},"layers":[]}`
	}
	ociBody := manifest(ociManifest)
	index := func(mt string) string {
		return `{"schemaVersion":2,"mediaType":"` + mt + `","manifests":[{"mediaType":"` + ociManifest + `","digest":"` + sha256Of(ociBody) +
			`","size":` + fmt.Sprint(len(ociBody)) + `,"platform":{"os":"linux","architecture":"` + runtime.GOARCH + `"}}]}`
	}
	tests := []struct {
		name            string
		header, body    string
		wantRoot, wantM types.MediaType // "" for refused
	}{
		{"OCI manifest sent as Docker's", dockerManifest, ociBody, types.OCIManifestSchema1, types.OCIManifestSchema1},
		{"Docker manifest sent as OCI's", ociManifest, manifest(dockerManifest), types.DockerManifestSchema2, types.DockerManifestSchema2},
		{"manifest naming no type", dockerManifest, manifest(""), types.DockerManifestSchema2, types.DockerManifestSchema2},
		{"OCI index sent as a Docker list", dockerList, index(ociIndex), types.OCIImageIndex, types.OCIManifestSchema1},
		{"Docker list sent as an OCI index", ociIndex, index(dockerList), types.DockerManifestList, types.OCIManifestSchema1},
		{"index sent as a manifest", ociManifest, index(ociIndex), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := servedObjects(t, map[string][2]string{
				"1":               {tt.header, tt.body},
				sha256Of(ociBody): {ociManifest, ociBody},
				sha256Of(config):  {"application/octet-stream", config},
			})
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Image(context.Background(), mustRef(t, host+"/own/type:1"))
			if tt.wantRoot == "" {
				if !errors.Is(err, ErrUnsupportedMediaType) {
					t.Errorf("Image = %v, want ErrUnsupportedMediaType", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			mt, err := got.MediaType()
			if err != nil {
				t.Fatal(err)
			}
			if got.Root.MediaType != tt.wantRoot || got.Descriptor.MediaType != tt.wantM || mt != tt.wantM {
				t.Errorf("Image: Root %s, Descriptor %s, MediaType() %s; want %s, %s, %s",
					got.Root.MediaType, got.Descriptor.MediaType, mt, tt.wantRoot, tt.wantM, tt.wantM)
			}
			if !tt.wantRoot.IsIndex() {
				return
			}
			idx, err := p.Index(context.Background(), mustRef(t, host+"/own/type:1"))
			if err != nil {
				t.Fatal(err)
			}
			if imt, err := idx.MediaType(); err != nil || idx.Descriptor.MediaType != tt.wantRoot || imt != tt.wantRoot {
				t.Errorf("Index: Descriptor %s, MediaType() %s, %v; want %s", idx.Descriptor.MediaType, imt, err, tt.wantRoot)
			}
		})
	}
}

// TestStallRetriedOnce: a request that stalls (nothing from the registry for the whole stall
// limit, a minute by default) is tried once more, on a new connection, and no more: retried
// as often as a 503, a registry that stopped answering cost four minutes per request, and a
// pull's blob (retried again by the cache) 24.
func TestStallRetriedOnce(t *testing.T) {
	quit := make(chan struct{})
	var asked atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		asked.Add(1)
		stallHere(t, r, quit)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(quit) })
	opts := testOptions()
	opts.retry = &retryPolicy{attempts: 4, backoff: time.Millisecond, maxRetryAfter: 5 * time.Millisecond, stall: 200 * time.Millisecond}
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	within(t, 20*time.Second, func() {
		_, err = p.Image(context.Background(), mustRef(t, strings.TrimPrefix(srv.URL, "http://")+"/stall/once:1"))
	})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("Image from a registry that stopped answering = %v, want timed out", err)
	}
	if n := asked.Load(); n != 2 {
		t.Errorf("the stalled manifest was asked for %d times, want 2: once, and once more", n)
	}
}

// allocated returns the bytes f allocated (the test server's too: small next to what is
// measured).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestIndexReadsEntriesOnce: go-containerregistry parses the whole index again for each
// child read through it: a 4 MiB index of a thousand entries took half a minute of CPU to
// pull whole. Index reads its entries once.
func TestIndexReadsEntriesOnce(t *testing.T) {
	const (
		ociManifest = "application/vnd.oci.image.manifest.v1+json"
		ociIndex    = "application/vnd.oci.image.index.v1+json"
	)
	config := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`
	objs := map[string][2]string{sha256Of(config): {"application/octet-stream", config}}
	pad := strings.Repeat("p", 4000)
	var entries []string
	var children []v1.Hash
	for i := range 300 {
		m := `{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
			sha256Of(config) + `","size":` + fmt.Sprint(len(config)) + `},"layers":[],"annotations":{"n":"` + fmt.Sprint(i) + `"}}`
		objs[sha256Of(m)] = [2]string{ociManifest, m}
		children = append(children, v1.Hash{Algorithm: "sha256", Hex: sha256Of(m)[7:]})
		entries = append(entries, `{"mediaType":"`+ociManifest+`","digest":"`+sha256Of(m)+`","size":`+fmt.Sprint(len(m))+
			`,"platform":{"os":"linux","architecture":"a`+fmt.Sprint(i)+`"},"annotations":{"pad":"`+pad+`"}}`)
	}
	root := `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[` + strings.Join(entries, ",") + `]}`
	objs["1"] = [2]string{ociIndex, root}
	host := servedObjects(t, objs)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.Index(context.Background(), mustRef(t, host+"/fat/index:1"))
	if err != nil {
		t.Fatal(err)
	}
	n := allocated(func() {
		for _, h := range children {
			if _, err := idx.Image(h); err != nil {
				t.Fatalf("Index.Image(%s) = %v", h, err)
			}
		}
	})
	// Each parse of the 1.2 MB index allocates more than its size: 300 of them, over 1 GB.
	if n > 150<<20 {
		t.Errorf("reading the 300 children of a %d-byte index allocated %d MB, want it read once", len(root), n>>20)
	}
}

// TestValuesCountedBeforeParse: go-containerregistry parses every manifest it fetches (for
// its artifactType) before strata sees it, so a manifest of a hundred thousand empty layers
// cost 100 MB and more before it was refused. The transport counts a manifest's values as
// it reads it, whether the manifest is the one a tag names or one an index lists.
func TestValuesCountedBeforeParse(t *testing.T) {
	const (
		ociManifest = "application/vnd.oci.image.manifest.v1+json"
		ociIndex    = "application/vnd.oci.image.index.v1+json"
	)
	empties := `{"schemaVersion":2,"mediaType":"` + ociManifest + `","layers":[` + strings.TrimSuffix(strings.Repeat("{},", maxJSONValues), ",") + `]}`
	root := `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[{"mediaType":"` + ociManifest + `","digest":"` + sha256Of(empties) + `","size":` + fmt.Sprint(len(empties)) + `}]}`
	host := servedObjects(t, map[string][2]string{
		"1":               {ociManifest, empties},
		"2":               {ociIndex, root},
		sha256Of(empties): {ociManifest, empties},
	})
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	idx, err := p.Index(ctx, mustRef(t, host+"/many/values:2"))
	if err != nil {
		t.Fatal(err)
	}
	for name, read := range map[string]func() error{
		"by tag": func() error { _, err := p.Image(ctx, mustRef(t, host+"/many/values:1")); return err },
		"in an index": func() error {
			_, err := idx.Image(v1.Hash{Algorithm: "sha256", Hex: sha256Of(empties)[7:]})
			return err
		},
	} {
		n := allocated(func() {
			if err := read(); !errors.Is(err, ErrManifestTooLarge) {
				t.Errorf("%s: reading a manifest of %d empty layers = %v, want ErrManifestTooLarge", name, maxJSONValues, err)
			}
		})
		if n > 30<<20 {
			t.Errorf("%s: refusing a manifest of %d empty layers allocated %d MB, want it refused before it is parsed", name, maxJSONValues, n>>20)
		}
	}
}

// TestIndexChildBytesVerified: go-containerregistry takes the registry's Docker-Content-Digest
// for the digest of a manifest sent as a signed schema 1, and so fetches any bytes by digest
// that way: a child index read through Index came back with other bytes than its digest
// names. Index checks each child's bytes against the digest it asked for.
func TestIndexChildBytesVerified(t *testing.T) {
	const ociIndex = "application/vnd.oci.image.index.v1+json"
	listed := `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[]}`
	other := `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[],"annotations":{"not":"the one listed"}}`
	root := `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[{"mediaType":"` + ociIndex + `","digest":"` + sha256Of(listed) + `","size":` + fmt.Sprint(len(listed)) + `}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
		case strings.HasSuffix(r.URL.Path, "/manifests/1"):
			w.Header().Set("Content-Type", ociIndex)
			io.WriteString(w, root)
		case strings.HasSuffix(r.URL.Path, "/manifests/"+sha256Of(listed)):
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws")
			w.Header().Set("Docker-Content-Digest", sha256Of(listed))
			io.WriteString(w, other)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.Index(context.Background(), mustRef(t, strings.TrimPrefix(srv.URL, "http://")+"/lying/child:1"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := idx.ImageIndex(v1.Hash{Algorithm: "sha256", Hex: sha256Of(listed)[7:]})
	if err == nil {
		raw, _ := sub.RawManifest()
		t.Fatalf("Index.ImageIndex of a child sent with other bytes = %d bytes hashing to %s, want an error", len(raw), sha256Of(string(raw)))
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("Index.ImageIndex = %q, want one line", err)
	}
}
