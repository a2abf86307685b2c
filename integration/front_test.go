package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/internal/testutil"
)

// front is docker-registry behind a programmable proxy on 127.0.0.1: it counts requests and
// the blob bytes it serves, can slow blobs down, can answer some requests itself (faults, a
// token service), and can put the registry behind htpasswd or token auth. The registry is
// seeded with the testdata images (and the test's own) while it has no auth; an auth
// setting restarts it on the same storage.
type front struct {
	Host     string // the proxy: what strata talks to
	Upstream string // docker-registry itself, for seeding and checking from the test

	mu        sync.Mutex
	requests  []string
	blobBytes map[string]int64 // bytes of GET /blobs/ bodies served, by digest
	blobGets  map[string]int   // GET /blobs/ requests, by digest
	rate      int64            // blob body bytes per second; 0 is unthrottled
	hook      func(w http.ResponseWriter, r *http.Request) bool
	// gen counts Resets: a response begun before one (a killed client's, still being
	// written) is not counted after it.
	gen int
}

// frontAuth configures the registry's auth section; the zero value is anonymous.
type frontAuth struct {
	htpasswd string // path of an htpasswd file (bcrypt)
	token    *tokenService
}

// startFront starts docker-registry seeded with the testdata images and whatever seed
// pushes, then restarts it with auth, behind the proxy. Everything stops when the test ends.
func startFront(t *testing.T, auth frontAuth, seed func(ctx context.Context, upstream string) error) *front {
	t.Helper()
	testutil.Requires(t, testutil.Command("docker-registry"))
	f := &front{blobBytes: map[string]int64{}, blobGets: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.Host = ln.Addr().String()
	data := t.TempDir()

	f.Upstream = runRegistry(t, data, "")
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := testimages.Seed(ctx, td, f.Upstream); err != nil {
		t.Fatalf("seeding docker-registry: %v", err)
	}
	if seed != nil {
		if err := seed(ctx, f.Upstream); err != nil {
			t.Fatalf("seeding docker-registry: %v", err)
		}
	}
	switch {
	case auth.htpasswd != "":
		f.Upstream = runRegistry(t, data, fmt.Sprintf("auth:\n  htpasswd:\n    realm: strata-test\n    path: %s\n", auth.htpasswd))
	case auth.token != nil:
		auth.token.service, auth.token.issuer = "strata-test-registry", "strata-test-issuer"
		bundle := filepath.Join(t.TempDir(), "token.pem")
		if err := os.WriteFile(bundle, auth.token.certPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		f.Upstream = runRegistry(t, data, fmt.Sprintf(
			"auth:\n  token:\n    realm: http://%s/token\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n",
			f.Host, auth.token.service, auth.token.issuer, bundle))
		// go-containerregistry only sends credentials to a realm on a private address when it
		// is the registry's own host:port, so the token service sits in the proxy.
		f.hook = func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/token" {
				return false
			}
			auth.token.ServeHTTP(w, r)
			return true
		}
	}

	target, _ := url.Parse("http://" + f.Upstream)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.URL.Path)
		hook, rate, gen := f.hook, f.rate, f.gen
		digest := blobDigest(r)
		if digest != "" {
			f.blobGets[digest]++
		}
		f.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		if digest != "" {
			w = &countingWriter{ResponseWriter: w, f: f, digest: digest, rate: rate, gen: gen}
		}
		proxy.ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

// runRegistry starts docker-registry on a free port with storage in data and the given extra
// config, waits until it answers, and returns its host:port. It is killed by PID when the
// test ends. The port freePort found may be taken again before docker-registry binds it (by
// another test's registry, started in parallel): the readiness check asks for a header only
// this registry sends, and a registry that could not bind is started again on another port.
func runRegistry(t *testing.T, data, extra string) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr, ok := startRegistryOn(t, freePort(t), data, extra)
		if ok {
			return addr
		}
		if attempt == 5 {
			t.Fatalf("docker-registry found its port taken %d times", attempt)
		}
	}
}

// startRegistryOn starts docker-registry on addr and reports whether it is the one serving
// there once it answers; when not, it has been stopped.
func startRegistryOn(t *testing.T, addr, data, extra string) (string, bool) {
	t.Helper()
	nonce := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n  headers:\n    X-Strata-Test-Registry: [%q]\n%s",
		filepath.Join(data, "data"), addr, nonce, extra)
	cfgPath := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", cfgPath)
	var logs testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting docker-registry: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			t.Logf("docker-registry on %s exited, trying another port: %s", addr, logs.String())
			return "", false
		default:
		}
		// Any answer, 401 included, means a registry is serving: ours if it has our header.
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.Header.Get("X-Strata-Test-Registry") == nonce {
				return addr, true
			}
			t.Logf("another registry answers on %s, trying another port", addr)
			stop()
			return "", false
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not come up on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

var blobPath = regexp.MustCompile(`/blobs/(sha256:[0-9a-f]{64})$`)

// blobDigest returns the digest a GET of a blob asks for, or "".
func blobDigest(r *http.Request) string {
	if r.Method != http.MethodGet {
		return ""
	}
	if m := blobPath.FindStringSubmatch(r.URL.Path); m != nil {
		return m[1]
	}
	return ""
}

// countingWriter counts (and optionally paces) the body bytes of one blob response.
type countingWriter struct {
	http.ResponseWriter
	f      *front
	digest string
	rate   int64
	gen    int // f.gen when the response began
}

func (c *countingWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := len(p)
		if c.rate > 0 {
			n = min(n, 16<<10)
		}
		m, err := c.ResponseWriter.Write(p[:n])
		written += m
		c.f.mu.Lock()
		if c.gen == c.f.gen {
			c.f.blobBytes[c.digest] += int64(m)
		}
		c.f.mu.Unlock()
		if err != nil {
			return written, err
		}
		if c.rate > 0 {
			if fl, ok := c.ResponseWriter.(http.Flusher); ok {
				fl.Flush()
			}
			time.Sleep(time.Duration(int64(n) * int64(time.Second) / c.rate))
		}
		p = p[n:]
	}
	return written, nil
}

// Flush lets the reverse proxy flush through the counter.
func (c *countingWriter) Flush() {
	if fl, ok := c.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// SetHook makes fn see every request first; it returns true when it answered.
func (f *front) SetHook(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = fn
}

// SetRate paces blob bodies at bytes per second (0: no limit).
func (f *front) SetRate(bytesPerSecond int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rate = bytesPerSecond
}

// Reset forgets the requests and bytes counted so far.
func (f *front) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	f.requests = nil
	f.blobBytes = map[string]int64{}
	f.blobGets = map[string]int{}
}

// Requests returns "METHOD path" of every request since the last Reset.
func (f *front) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// Count returns how many requests since the last Reset contain s in "METHOD path".
func (f *front) Count(s string) int {
	n := 0
	for _, r := range f.Requests() {
		if strings.Contains(r, s) {
			n++
		}
	}
	return n
}

// BlobBytes returns the body bytes served for digest since the last Reset.
func (f *front) BlobBytes(digest string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blobBytes[digest]
}

// BlobGets returns GET requests per blob digest since the last Reset.
func (f *front) BlobGets() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.blobGets {
		out[k] = v
	}
	return out
}

// fetchUpstream GETs path from docker-registry itself, with the request's headers.
func (f *front) fetchUpstream(r *http.Request) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+f.Upstream+r.URL.RequestURI(), nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header = r.Header.Clone()
	req.Header.Del("Range")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// env is the environment for strata in these tests: HOME is the test's, so credentials
// go to its own ~/.docker/config.json, and no mirror or docker config leaks in.
func testEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "DOCKER_CONFIG", "STRATA_REGISTRY_MIRROR", "STRATA_OFFLINE":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home)
}

// run runs strata with --root root, env and stdin, and returns its status and output.
func run(t *testing.T, env []string, stdin, root string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{strataBin, "--root", root}, args...)
	if namesUnknownHost(args) {
		argv = withoutRealDNS(t, argv)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running strata %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{code, stdout.String(), stderr.String()}
}

// mustRun is run that fails the test unless strata exits 0.
func mustRun(t *testing.T, env []string, stdin, root string, args ...string) result {
	t.Helper()
	r := run(t, env, stdin, root, args...)
	if r.Code != 0 {
		t.Fatalf("strata %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// checkFailed checks what every failure must look like: a non-zero status and one line on
// stderr, "strata: …", containing want (the overlay-refused warning aside).
func checkFailed(t *testing.T, r result, want string) {
	t.Helper()
	if r.Code == 0 {
		t.Errorf("exit status 0, want a failure (stdout %q)", r.Stdout)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n") {
		if !strings.HasPrefix(l, "strata: warning:") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "strata: ") {
		t.Errorf("stderr = %q, want one line starting with 'strata: '", r.Stderr)
	}
	if !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr = %q, want it to say %q", r.Stderr, want)
	}
}

// checkStoreComplete hashes every blob in root's store: each must hash to its name, so a
// failed pull leaves only complete blobs (partial downloads live in ingest/).
func checkStoreComplete(t *testing.T, root string) {
	t.Helper()
	dir := filepath.Join(root, "oci", "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if got := sha256File(t, filepath.Join(dir, e.Name())); got != e.Name() {
			t.Errorf("blob %s in the store hashes to %s", e.Name(), got)
		}
	}
}

// storeBlobs returns the names of the blobs in root's store.
func storeBlobs(t *testing.T, root string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	dir := filepath.Join(root, "oci", "blobs", "sha256")
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out["sha256:"+d.Name()] = true
		}
		return nil
	})
	return out
}

// randomImage builds a single-platform image for this host of layers random blobs of the
// given sizes (random bytes do not compress, so a blob is about its size).
func randomImage(t testing.TB, sizes ...int64) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, n := range sizes {
		l, err := random.Layer(n, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.AppendLayers(img, l)
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// appendRandom is base with one more random layer of size bytes.
func appendRandom(t testing.TB, base v1.Image, size int64) v1.Image {
	t.Helper()
	l, err := random.Layer(size, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// push writes img to host/repo:tag over plain HTTP.
func push(ctx context.Context, host, repoTag string, img v1.Image) error {
	ref, err := name.NewTag(host+"/"+repoTag, name.Insecure)
	if err != nil {
		return err
	}
	return remote.Write(ref, img, remote.WithContext(ctx))
}

// layerDigests returns img's layer digests, base first.
func layerDigests(t testing.TB, img v1.Image) []string {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range m.Layers {
		out = append(out, l.Digest.String())
	}
	return out
}

// digestOf returns the digest line strata pull printed ("Digest: sha256:…").
func digestOf(stdout string) string {
	for _, l := range strings.Split(stdout, "\n") {
		if d, ok := strings.CutPrefix(l, "Digest: "); ok {
			return strings.TrimSpace(d)
		}
	}
	return ""
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
