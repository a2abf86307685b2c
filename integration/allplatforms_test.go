package integration

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/strata-run/strata/internal/testimages"
)

// memRegistry is go-containerregistry's in-memory registry on 127.0.0.1, recording the
// requests it serves.
type memRegistry struct {
	host     string
	mu       sync.Mutex
	requests []string
}

func (r *memRegistry) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.requests
	r.requests = nil
	return out
}

func startMemRegistry(t *testing.T) *memRegistry {
	t.Helper()
	r := &memRegistry{}
	h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// TestAllPlatformsBundle is docs/air-gapped.md's "bundle for another architecture": pull every
// platform of alpine:3.20.3 (amd64 and arm64, built from testdata), run this host's, save the
// whole index, load it into a fresh root with every digest kept, save arm64 alone from there;
// prune keeps every platform's blobs and rmi removes them.
func TestAllPlatformsBundle(t *testing.T) {
	requiresContainers(t)
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := map[string]bool{"amd64": true, "arm64": true}[testimages.HostArch()]; !ok {
		t.Skipf("the alpine fixture has no image for %s", testimages.HostArch())
	}
	reg := startMemRegistry(t)
	idx, err := testimages.AlpineIndex(td, testimages.AlpineVersion)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.host + "/library/alpine:" + testimages.AlpineVersion
	if err := remote.WriteIndex(mustTagRef(t, ref), idx, remote.WithContext(context.Background())); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var manifests []string // "platform digest", as image inspect's Manifests print
	for _, m := range im.Manifests {
		manifests = append(manifests, m.Platform.String()+" "+m.Digest.String())
	}
	arm, err := testimages.AlpineImage(td, testimages.AlpineVersion, "arm64")
	if err != nil {
		t.Fatal(err)
	}

	root := newRoot(t)
	if r := strata(t, root, "pull", "--platform", "linux/arm64", "--all-platforms", ref); r.Code != 1 || !strings.Contains(r.Stderr, "exclude each other") || strings.Count(r.Stderr, "\n") != 1 {
		t.Errorf("pull --platform --all-platforms: exit %d, stderr %q; want 1 and one line", r.Code, r.Stderr)
	}
	reg.take()
	out := mustStrata(t, root, "pull", "--all-platforms", ref).Stdout
	if !strings.Contains(out, "Digest: "+idxDigest.String()) {
		t.Errorf("pull --all-platforms printed %q, want the index digest %s", out, idxDigest)
	}
	// Every platform's blobs were fetched: two layers among them.
	layerGets := 0
	for _, q := range reg.take() {
		if strings.HasPrefix(q, "GET ") && strings.Contains(q, "/blobs/") {
			layerGets++
		}
	}
	if layerGets < 4 {
		t.Errorf("pull --all-platforms fetched %d blobs, want every platform's layer and config (4)", layerGets)
	}
	// A re-pull, with or without --all-platforms, is one HEAD (after the auth ping) and keeps
	// the index.
	for _, args := range [][]string{{"pull", "--all-platforms", ref}, {"pull", ref}} {
		mustStrata(t, root, args...)
		got := slices.DeleteFunc(reg.take(), func(q string) bool { return q == "GET /v2/" })
		if !slices.Equal(got, []string{"HEAD /v2/library/alpine/manifests/" + testimages.AlpineVersion}) {
			t.Errorf("strata %s made requests %v, want one HEAD", strings.Join(args, " "), got)
		}
	}
	checkIndexRef(t, root, ref, idxDigest, manifests)

	if got := strings.TrimSpace(mustStrata(t, root, "run", "--rm", ref, "cat", "/etc/alpine-release").Stdout); got != testimages.AlpineVersion {
		t.Errorf("run (host platform) printed %q, want %s", got, testimages.AlpineVersion)
	}

	bundle := filepath.Join(t.TempDir(), "alpine-all.tar")
	if r := strata(t, root, "save", "--all-platforms", "-o", bundle, ref); r.Code == 0 || !strings.Contains(r.Stderr, "oci-archive") {
		t.Errorf("save --all-platforms as docker-archive: exit %d, stderr %q; want an error naming oci-archive", r.Code, r.Stderr)
	}
	mustStrata(t, root, "save", "--format", "oci-archive", "--all-platforms", "-o", bundle, ref)

	// The bundle, in a fresh root: the same index, the same manifests.
	root2 := newRoot(t)
	mustStrata(t, root2, "load", "-i", bundle)
	checkIndexRef(t, root2, ref, idxDigest, manifests)
	if !maps.Equal(storeBlobs(t, root2), storeBlobs(t, root)) {
		t.Errorf("loaded root holds blobs %v, want the pulling root's %v", storeBlobs(t, root2), storeBlobs(t, root))
	}
	armTar := filepath.Join(t.TempDir(), "alpine-arm64.tar")
	mustStrata(t, root2, "save", "--platform", "linux/arm64", "-o", armTar, ref)
	if got, want := tarBlobs(t, armTar), imageBlobHexes(t, arm); !slices.Equal(got, want) {
		t.Errorf("save --platform linux/arm64 wrote blobs %v, want the arm64 image's %v", got, want)
	}

	// A root holding this host's platform only: --offline cannot make it whole, a pull can.
	root3 := newRoot(t)
	mustStrata(t, root3, "pull", "--no-unpack", ref)
	if r := strata(t, root3, "pull", "--offline", "--all-platforms", ref); r.Code != 1 || !strings.Contains(r.Stderr, "one platform") {
		t.Errorf("pull --offline --all-platforms of one stored platform: exit %d, stderr %q; want 1 saying one platform is stored", r.Code, r.Stderr)
	}
	mustStrata(t, root3, "pull", "--no-unpack", "--all-platforms", ref)
	checkIndexRef(t, root3, ref, idxDigest, manifests)

	// push uploads the whole index, under another name: the registry then has it by digest.
	copyRef := reg.host + "/copy/alpine:1"
	mustStrata(t, root, "tag", ref, copyRef)
	mustStrata(t, root, "push", copyRef)
	pushed, err := remote.Index(mustDigestRef(t, reg.host+"/copy/alpine@"+idxDigest.String()))
	if err != nil {
		t.Fatalf("the pushed index is not in the registry by its digest: %v", err)
	}
	if pm, err := pushed.IndexManifest(); err != nil || len(pm.Manifests) != len(im.Manifests) {
		t.Errorf("pushed index lists %v, %v; want %d manifests", pm, err, len(im.Manifests))
	}
	mustStrata(t, root, "rmi", copyRef)

	// prune keeps every platform; prune -a would free all of them, and its dry run and
	// system df count them all; rmi takes them all.
	before := storeBlobs(t, root)
	if r := mustStrata(t, root, "prune", "-a", "--dry-run"); strings.Count(r.Stdout, "Would delete blob:") != len(before) {
		t.Errorf("prune -a --dry-run lists %d blobs, want all %d:\n%s", strings.Count(r.Stdout, "Would delete blob:"), len(before), r.Stdout)
	}
	var df struct {
		Totals struct {
			Unused int64 `json:"unused"`
		} `json:"totals"`
	}
	if err := json.Unmarshal([]byte(mustStrata(t, root, "system", "df", "-v", "--format", "json").Stdout), &df); err != nil || df.Totals.Unused != 0 {
		t.Errorf("system df: unused %d bytes (%v), want 0: every platform's blob belongs to the index", df.Totals.Unused, err)
	}
	mustStrata(t, root, "prune")
	if after := storeBlobs(t, root); !maps.Equal(after, before) {
		t.Errorf("prune changed the blobs from %v to %v; every platform is in use", before, after)
	}
	mustStrata(t, root, "rmi", ref)
	if left := storeBlobs(t, root); len(left) != 0 {
		t.Errorf("rmi left blobs %v", left)
	}
}

// checkIndexRef checks that images and image inspect show ref as the index idx with its
// platforms' manifests.
func checkIndexRef(t *testing.T, root, ref string, idx v1.Hash, manifests []string) {
	t.Helper()
	got := mustStrata(t, root, "images", "--no-trunc", "--format", "{{.ID}} {{.Digest}}").Stdout
	if want := idx.String() + " " + idx.String() + "\n"; got != want {
		t.Errorf("images = %q, want %q", got, want)
	}
	got = mustStrata(t, root, "image", "inspect", "--format", "{{.Id}}{{range .Manifests}};{{.Platform}} {{.Digest}}{{end}}", ref).Stdout
	if want := idx.String() + ";" + strings.Join(manifests, ";") + "\n"; got != want {
		t.Errorf("image inspect = %q, want %q", got, want)
	}
}

// tarBlobs lists the blobs/sha256/ entries of an archive, sorted.
func tarBlobs(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h, ok := strings.CutPrefix(hdr.Name, "blobs/sha256/"); ok && h != "" {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}

// imageBlobHexes lists an image's manifest, config and layer digests (hex), sorted.
func imageBlobHexes(t *testing.T, img v1.Image) []string {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	out := []string{d.Hex, m.Config.Digest.Hex}
	for _, l := range m.Layers {
		out = append(out, l.Digest.Hex)
	}
	slices.Sort(out)
	return out
}

// TestAllPlatformsWithoutHost: an index without this host's platform pulls whole with
// nothing unpacked, and run says in one line which platforms it has.
func TestAllPlatformsWithoutHost(t *testing.T) {
	requiresContainers(t)
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[testimages.HostArch()]
	if other == "" {
		t.Skipf("the alpine fixture has no image for %s", testimages.HostArch())
	}
	img, err := testimages.AlpineImage(td, testimages.AlpineVersion, other)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: cf.Platform()}})
	reg := startMemRegistry(t)
	ref := reg.host + "/library/alpine:" + other + "-only"
	if err := remote.WriteIndex(mustTagRef(t, ref), idx); err != nil {
		t.Fatal(err)
	}
	root := newRoot(t)
	mustStrata(t, root, "pull", "--all-platforms", ref)
	r := strata(t, root, "run", "--rm", ref, "true")
	want := "no image for linux/" + testimages.HostArch() + " in " + ref + " (it has " + cf.Platform().String() + ")"
	if r.Code != 125 || !strings.Contains(r.Stderr, want) || strings.Count(r.Stderr, "\n") != 1 {
		t.Errorf("run of an index without this platform: exit %d, stderr %q; want 125 and one line with %q", r.Code, r.Stderr, want)
	}
}

func mustTagRef(t *testing.T, s string) name.Tag {
	t.Helper()
	r, err := name.NewTag(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustDigestRef(t *testing.T, s string) name.Digest {
	t.Helper()
	r, err := name.NewDigest(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestAllPlatformsHostile: an index of 10,000 entries fails pull --all-platforms with one line
// before any of them is fetched, and stores nothing.
func TestAllPlatformsHostile(t *testing.T) {
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	img, err := testimages.AlpineImage(td, testimages.AlpineVersion, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	reg := startMemRegistry(t)
	base := reg.host + "/library/crowded"
	if err := remote.Write(mustTagRef(t, base+":base"), img); err != nil {
		t.Fatal(err)
	}
	adds := make([]mutate.IndexAddendum, 10000)
	for i := range adds {
		adds[i] = mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "linux", Architecture: "amd64"},
			Annotations: map[string]string{"n": strconv.Itoa(i)},
		}}
	}
	crowded := mutate.AppendManifests(empty.Index, adds...)
	if err := remote.WriteIndex(mustTagRef(t, base+":1"), crowded); err != nil {
		t.Fatal(err)
	}
	root := newRoot(t)
	reg.take()
	r := strata(t, root, "pull", "--no-unpack", "--all-platforms", base+":1")
	if r.Code != 1 || !strings.Contains(r.Stderr, "more than 1024 manifests") || strings.Count(r.Stderr, "\n") != 1 {
		t.Errorf("pull --all-platforms of a 10000-entry index: exit %d, stderr %q; want 1 and one line", r.Code, r.Stderr)
	}
	for _, q := range reg.take() {
		if strings.Contains(q, "/manifests/sha256:") || strings.Contains(q, "/blobs/") {
			t.Errorf("pull fetched %s from a refused index", q)
		}
	}
	if len(storeBlobs(t, root)) != 0 {
		t.Errorf("a refused index left blobs %v", storeBlobs(t, root))
	}
}
