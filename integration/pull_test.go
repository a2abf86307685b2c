package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/internal/testutil"
)

// alpineDigests returns the digest of the seeded alpine index and the ID (config digest) of
// its image for this host's architecture.
func alpineDigests(t *testing.T) (index, id string) {
	t.Helper()
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := testimages.AlpineIndex(td, testimages.AlpineVersion)
	if err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := testimages.AlpineImage(td, testimages.AlpineVersion, runtime.GOARCH)
	if err != nil {
		t.Skipf("skipping: no alpine fixture for %s: %v", runtime.GOARCH, err)
	}
	c, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return d.String(), c.String()
}

// inspected is the part of `strata image inspect` these tests read.
type inspected struct {
	ID           string `json:"Id"`
	RepoTags     []string
	RepoDigests  []string
	Os           string
	Architecture string
	Config       struct{ Cmd, Env []string }
	RootFS       struct {
		Type   string
		Layers []string
	}
}

func inspect(t *testing.T, env []string, root string, images ...string) []inspected {
	t.Helper()
	r := mustRun(t, env, "", root, append([]string{"image", "inspect"}, images...)...)
	var out []inspected
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("image inspect printed %q: %v", r.Stdout, err)
	}
	return out
}

// TestPullAnonymous pulls the alpine index from docker-registry without credentials, then
// checks what the image commands say about it and that pulling again costs one manifest
// request.
func TestPullAnonymous(t *testing.T) {
	t.Parallel() // each test has its own registry, root and HOME
	testutil.Requires(t, testutil.Root)
	f := startFront(t, frontAuth{}, nil)
	root, env := newRoot(t), testEnv(t.TempDir())
	indexDigest, id := alpineDigests(t)
	ref := f.Host + "/library/alpine:" + testimages.AlpineVersion

	first := mustRun(t, env, "", root, "pull", ref)
	if got := digestOf(first.Stdout); got != indexDigest {
		t.Errorf("pull printed Digest: %s, want the index's %s (the repo digest docker prints)", got, indexDigest)
	}
	if !strings.Contains(first.Stdout, "Status: Downloaded newer image for "+ref) {
		t.Errorf("pull printed %q, want 'Status: Downloaded newer image for %s'", first.Stdout, ref)
	}
	checkStoreComplete(t, root)

	got := inspect(t, env, root, ref)
	if len(got) != 1 {
		t.Fatalf("image inspect %s gave %d images, want 1", ref, len(got))
	}
	in := got[0]
	if in.ID != id || in.Os != "linux" || in.Architecture != runtime.GOARCH {
		t.Errorf("inspect = Id %s %s/%s, want %s linux/%s", in.ID, in.Os, in.Architecture, id, runtime.GOARCH)
	}
	if !slices.Contains(in.RepoTags, ref) || !slices.Contains(in.RepoDigests, f.Host+"/library/alpine@"+indexDigest) {
		t.Errorf("inspect RepoTags %v RepoDigests %v, want %s and %s", in.RepoTags, in.RepoDigests, ref, f.Host+"/library/alpine@"+indexDigest)
	}
	if !slices.Equal(in.Config.Cmd, []string{"/bin/sh"}) || !slices.Contains(in.Config.Env, testimages.DefaultPath) {
		t.Errorf("inspect Config = Cmd %q Env %q, want [/bin/sh] and %s", in.Config.Cmd, in.Config.Env, testimages.DefaultPath)
	}
	if in.RootFS.Type != "layers" || len(in.RootFS.Layers) != 1 {
		t.Errorf("inspect RootFS = %+v, want one layer", in.RootFS)
	}
	if r := mustRun(t, env, "", root, "image", "inspect", "--format", "{{.Id}} {{.Os}}", ref); strings.TrimSpace(r.Stdout) != id+" linux" {
		t.Errorf("image inspect --format = %q, want %q", r.Stdout, id+" linux")
	}

	f.Reset()
	second := mustRun(t, env, "", root, "pull", ref)
	if !strings.Contains(second.Stdout, "Status: Image is up to date for "+ref) || digestOf(second.Stdout) != indexDigest {
		t.Errorf("second pull printed %q, want Digest: %s and 'Image is up to date'", second.Stdout, indexDigest)
	}
	if n, b := f.Count("/manifests/"), f.Count("/blobs/"); n != 1 || b != 0 {
		t.Errorf("second pull made %d manifest and %d blob requests, want 1 and 0: %v", n, b, f.Requests())
	}

	// By digest: the first pull fetches manifests only (every blob is stored); a second
	// needs no request at all, since a digest's content cannot change.
	byDigest := f.Host + "/library/alpine@" + indexDigest
	f.Reset()
	mustRun(t, env, "", root, "pull", byDigest)
	if b := f.Count("/blobs/"); b != 0 {
		t.Errorf("pull by digest of a stored image fetched %d blobs: %v", b, f.Requests())
	}
	f.Reset()
	mustRun(t, env, "", root, "pull", byDigest)
	if reqs := f.Requests(); len(reqs) != 0 {
		t.Errorf("second pull by digest made requests %v, want none", reqs)
	}

	// Through a mirror, as Docker Hub names: the same one-request check, asked of the mirror.
	mustRun(t, env, "", root, "--registry-mirror", "http://"+f.Host, "pull", "-q", "alpine")
	f.Reset()
	viaMirror := mustRun(t, env, "", root, "--registry-mirror", "http://"+f.Host, "pull", "alpine")
	if !strings.Contains(viaMirror.Stdout, "Image is up to date for alpine:latest") || f.Count("/manifests/") != 1 || f.Count("/blobs/") != 0 {
		t.Errorf("second pull through the mirror printed %q with requests %v, want up to date after one manifest request", viaMirror.Stdout, f.Requests())
	}

	// A pull for another platform of the same index is not "up to date".
	f.Reset()
	other := mustRun(t, env, "", root, "pull", "--platform", otherArch(), ref)
	if strings.Contains(other.Stdout, "up to date") || f.Count("/blobs/") == 0 {
		t.Errorf("pull --platform %s printed %q with requests %v, want a download", otherArch(), other.Stdout, f.Requests())
	}
}

// otherArch is the alpine fixture platform that is not this host's.
func otherArch() string {
	if runtime.GOARCH == "arm64" {
		return "linux/amd64"
	}
	return "linux/arm64"
}

// TestTagAndImageCommands tags a pulled image and finds it under both names through the
// `image` management command.
func TestTagAndImageCommands(t *testing.T) {
	t.Parallel() // each test has its own registry, root and HOME
	testutil.Requires(t, testutil.Root)
	f := startFront(t, frontAuth{}, nil)
	root, env := newRoot(t), testEnv(t.TempDir())
	_, id := alpineDigests(t)
	ref := f.Host + "/library/alpine:" + testimages.AlpineVersion
	mustRun(t, env, "", root, "pull", "-q", ref)

	mustRun(t, env, "", root, "tag", ref, "mine/alpine:1")
	got := inspect(t, env, root, "mine/alpine:1")
	if len(got) != 1 || got[0].ID != id || !slices.Contains(got[0].RepoTags, "mine/alpine:1") || !slices.Contains(got[0].RepoTags, ref) {
		t.Errorf("inspect after tag = %+v, want Id %s with tags mine/alpine:1 and %s", got, id, ref)
	}
	ls := mustRun(t, env, "", root, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
	if !strings.Contains(ls.Stdout, "mine/alpine:1") {
		t.Errorf("image ls = %q, want mine/alpine:1", ls.Stdout)
	}

	checkFailed(t, run(t, env, "", root, "tag", "nosuch:1", "other:1"), "nosuch")
	checkFailed(t, run(t, env, "", root, "push", f.Host+"/nosuch:1"), "not found in the store")
	checkFailed(t, run(t, env, "", root, "tag", ref, "other@sha256:"+strings.Repeat("a", 64)), "digest")
	r := run(t, env, "", root, "image", "inspect", "mine/alpine:1", "nosuch:1")
	checkFailed(t, r, "nosuch")
	if !strings.Contains(r.Stdout, id) {
		t.Errorf("image inspect of a found and a missing image printed %q, want the found one", r.Stdout)
	}

	mustRun(t, env, "", root, "image", "rm", "mine/alpine:1")
	if r := run(t, env, "", root, "image", "inspect", "mine/alpine:1"); r.Code == 0 {
		t.Errorf("image inspect after image rm succeeded: %q", r.Stdout)
	}
}

// TestPushBusyboxKeepsDigests loads the upstream busybox layout, pushes it with strata push
// and pulls it into a fresh root: manifest, config and layer keep their upstream digests.
func TestPushBusyboxKeepsDigests(t *testing.T) {
	t.Parallel() // each test has its own registry, root and HOME
	testutil.Requires(t, testutil.Root)
	f := startFront(t, frontAuth{}, nil)
	root, env := newRoot(t), testEnv(t.TempDir())
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	layoutDir := filepath.Join(td, "busybox", "busybox-1.38.0-musl-oci")
	var lidx v1.IndexManifest
	b, err := os.ReadFile(filepath.Join(layoutDir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &lidx); err != nil || len(lidx.Manifests) != 1 {
		t.Fatalf("testdata busybox index.json: %v, %d manifests", err, len(lidx.Manifests))
	}
	manifest := lidx.Manifests[0].Digest.String()
	var m v1.Manifest
	b, err = os.ReadFile(filepath.Join(layoutDir, "blobs", "sha256", lidx.Manifests[0].Digest.Hex))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}

	mustRun(t, env, "", root, "load", "-q", "-i", layoutDir)
	target := f.Host + "/mirror/busybox:1.38.0-musl"
	mustRun(t, env, "", root, "tag", "busybox:1.38.0-musl", target)
	out := mustRun(t, env, "", root, "push", target)
	layerLine := m.Layers[0].Digest.Hex[:12] + ": "
	if !strings.Contains(out.Stdout, "1.38.0-musl: digest: "+manifest) || !strings.Contains(out.Stdout, layerLine+"Pushed") {
		t.Errorf("push printed %q, want '%sPushed' and '1.38.0-musl: digest: %s'", out.Stdout, layerLine, manifest)
	}
	if again := mustRun(t, env, "", root, "push", target); !strings.Contains(again.Stdout, layerLine+"Layer already exists") {
		t.Errorf("second push printed %q, want '%sLayer already exists'", again.Stdout, layerLine)
	}
	req, err := http.NewRequest(http.MethodHead, "http://"+f.Upstream+"/v2/mirror/busybox/manifests/1.38.0-musl", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); got != manifest {
		t.Errorf("registry serves the pushed tag as %s, want upstream %s", got, manifest)
	}

	// The pushing root knows what the tag now points at: a pull costs one request.
	f.Reset()
	again := mustRun(t, env, "", root, "pull", target)
	if !strings.Contains(again.Stdout, "Image is up to date") || f.Count("/manifests/") != 1 {
		t.Errorf("pull after push printed %q with requests %v, want up to date after one", again.Stdout, f.Requests())
	}

	fresh := newRoot(t)
	pulled := mustRun(t, env, "", fresh, "pull", target)
	if got := digestOf(pulled.Stdout); got != manifest {
		t.Errorf("pull of the pushed image printed Digest: %s, want upstream %s", got, manifest)
	}
	blobs := storeBlobs(t, fresh)
	for _, d := range append([]v1.Hash{lidx.Manifests[0].Digest, m.Config.Digest}, m.Layers[0].Digest) {
		if !blobs[d.String()] {
			t.Errorf("fresh root lacks upstream blob %s; it has %v", d, blobs)
		}
	}
	checkStoreComplete(t, fresh)
	if got := inspect(t, env, fresh, target); len(got) != 1 || got[0].ID != m.Config.Digest.String() {
		t.Errorf("inspect of the pulled image = %+v, want Id %s", got, m.Config.Digest)
	}
}

// TestPullKilledMidLayerResumes stops a pull in the middle of a 20 MB layer, with kill -9
// and with Ctrl-C, and checks that the next pull asks only for the bytes not yet on disk.
func TestPullKilledMidLayerResumes(t *testing.T) {
	t.Parallel() // each test has its own registry, root and HOME
	testutil.Requires(t, testutil.Root)
	img := randomImage(t, 20<<20)
	f := startFront(t, frontAuth{}, func(ctx context.Context, host string) error {
		return push(ctx, host, "test/big:1", img)
	})
	layer := layerDigests(t, img)[0]
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	size := m.Layers[0].Size
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			root, env := newRoot(t), testEnv(t.TempDir())
			ref := f.Host + "/test/big:1"
			f.Reset()
			// 8 MB/s: the layer takes 2.5 s, so the signal lands in its middle.
			f.SetRate(8 << 20)
			cmd := exec.Command(strataBin, "--root", root, "pull", "--progress", "plain", ref)
			cmd.Env = env
			var stdout, stderr testutil.SyncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
			})
			deadline := time.Now().Add(30 * time.Second)
			for f.BlobBytes(layer) < size/3 {
				if time.Now().After(deadline) {
					t.Fatalf("the pull served %d of %d bytes in 30 s; output: %s%s", f.BlobBytes(layer), size, stdout.String(), stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			if sig == syscall.SIGINT {
				// Interrupted, strata says so in one line and exits non-zero.
				checkFailed(t, result{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}, "interrupted")
			} else if err == nil {
				t.Fatalf("pull survived kill -9")
			}
			partial := filepath.Join(root, "oci", "ingest", strings.TrimPrefix(layer, "sha256:")+".partial")
			st, err := os.Stat(partial)
			if err != nil {
				t.Fatalf("after %v mid-layer: %v; output: %s%s", sig, err, stdout.String(), stderr.String())
			}
			have := st.Size()
			if have == 0 || have >= size {
				t.Fatalf("partial file holds %d of %d bytes, want some but not all", have, size)
			}
			checkStoreComplete(t, root)

			f.SetRate(0)
			f.Reset()
			mustRun(t, env, "", root, "pull", ref)
			if got := f.BlobBytes(layer); got != size-have {
				t.Errorf("the resumed pull fetched %d bytes of the layer, want %d (size %d minus %d already on disk)", got, size-have, size, have)
			}
			if _, err := os.Stat(partial); !os.IsNotExist(err) {
				t.Errorf("partial file after the completed pull: %v, want it gone", err)
			}
			checkStoreComplete(t, root)
			if !storeBlobs(t, root)[layer] {
				t.Errorf("layer %s is not in the store after the resumed pull", layer)
			}
		})
	}
}

// TestConcurrentPullsShareBlobs runs two pulls of images sharing a base layer at once, into
// one root: both succeed and each blob is fetched once.
func TestConcurrentPullsShareBlobs(t *testing.T) {
	t.Parallel() // each test has its own registry, root and HOME
	testutil.Requires(t, testutil.Root)
	base := randomImage(t, 6<<20)
	a, b := appendRandom(t, base, 1<<20), appendRandom(t, base, 2<<20)
	f := startFront(t, frontAuth{}, func(ctx context.Context, host string) error {
		if err := push(ctx, host, "test/a:1", a); err != nil {
			return err
		}
		return push(ctx, host, "test/b:1", b)
	})
	root, env := newRoot(t), testEnv(t.TempDir())
	// Slow enough that the two pulls overlap on the base layer.
	f.SetRate(16 << 20)

	var wg sync.WaitGroup
	results := make([]result, 2)
	for i, ref := range []string{f.Host + "/test/a:1", f.Host + "/test/b:1"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = run(t, env, "", root, "pull", "--progress", "plain", ref)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != 0 {
			t.Errorf("pull %d: exit %d\nstdout: %s\nstderr: %s", i, r.Code, r.Stdout, r.Stderr)
		}
	}
	for d, n := range f.BlobGets() {
		if n != 1 {
			t.Errorf("blob %s was fetched %d times, want once", d, n)
		}
	}
	want := slices.Concat(layerDigests(t, a), layerDigests(t, b))
	blobs := storeBlobs(t, root)
	for _, d := range want {
		if !blobs[d] {
			t.Errorf("layer %s missing from the store", d)
		}
	}
	checkStoreComplete(t, root)
	ls := mustRun(t, env, "", root, "images", "--format", "{{.Repository}}:{{.Tag}}")
	for _, name := range []string{f.Host + "/test/a:1", f.Host + "/test/b:1"} {
		if !strings.Contains(ls.Stdout, name) {
			t.Errorf("images = %q, want %s", ls.Stdout, name)
		}
	}
}
