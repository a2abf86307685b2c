// Package integration runs the strata binary as a user would, against the real CNCF registry
// (Debian's docker-registry) on 127.0.0.1. The tests need root (containers, mounts, cgroups)
// and skip with the reason otherwise.
package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/internal/testutil"
)

// strataBin is the binary under test: $STRATA_BIN (make test sets it) or one built for this run.
var strataBin string

func TestMain(m *testing.M) {
	strataBin = os.Getenv("STRATA_BIN")
	var tmp string
	if strataBin == "" {
		var err error
		tmp, err = os.MkdirTemp("", "strata-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		strataBin = filepath.Join(tmp, "strata")
		build := exec.Command("go", "build", "-o", strataBin, "github.com/strata-run/strata/cmd/strata")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building strata: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	removeFakeDNSConf()
	os.Exit(code)
}

// registry is a docker-registry process on 127.0.0.1, seeded with the testdata images,
// behind a proxy that counts the requests it serves.
type registry struct {
	Host      string // the proxy's host:port: what strata talks to
	Upstream  string // docker-registry's own host:port
	mu        sync.Mutex
	requests  []string
	blobBytes int64
}

// Requests returns "METHOD path" of every request since the last Reset.
func (r *registry) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.requests...)
}

// BlobGets counts GET requests for blobs since the last Reset.
func (r *registry) BlobGets() int {
	n := 0
	for _, q := range r.Requests() {
		if strings.HasPrefix(q, "GET ") && strings.Contains(q, "/blobs/") {
			n++
		}
	}
	return n
}

func (r *registry) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = nil
	r.blobBytes = 0
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startRegistry starts docker-registry with storage in a temp dir, seeds it, and stops it
// (by its PID) when the test ends.
func startRegistry(t *testing.T) *registry {
	t.Helper()
	testutil.Requires(t, testutil.Command("docker-registry"))
	addr := runRegistry(t, t.TempDir(), "")
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := testimages.Seed(ctx, td, addr); err != nil {
		t.Fatalf("seeding docker-registry: %v", err)
	}
	r := &registry{Upstream: addr}
	target, _ := url.Parse("http://" + addr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// result is one strata invocation's outcome.
type result struct {
	Code           int
	Stdout, Stderr string
}

// strata runs the binary with --root root and returns its exit status and output.
func strata(t *testing.T, root string, args ...string) result {
	t.Helper()
	// No mirror from the caller's environment: each test names its registry.
	return run(t, append(os.Environ(), "STRATA_REGISTRY_MIRROR="), "", root, args...)
}

// mustStrata is strata that fails the test unless the exit status is 0.
func mustStrata(t *testing.T, root string, args ...string) result {
	t.Helper()
	r := strata(t, root, args...)
	if r.Code != 0 {
		t.Fatalf("strata %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// newRoot makes a strata root for one test and, when the test ends, checks that nothing
// strata made stays mounted under it, then removes it.
func newRoot(t *testing.T) string {
	t.Helper()
	root, err := os.MkdirTemp("", "strata-it-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Every time, not only after a failure: a detached container a passing test leaves
		// has its overlay mounted in its own mount namespace, where mountsUnder does not see
		// it, and its monitor and processes would run on once the store is gone.
		removeContainersLeft(root)
		left := mountsUnder(t, root)
		for _, m := range left {
			t.Errorf("left mounted after the test: %s", m)
		}
		for _, m := range left {
			exec.Command("umount", "-l", m).Run()
		}
		os.RemoveAll(root)
	})
	return root
}

// removeContainersLeft removes, best effort, every container of root: a test that failed
// midway may leave one running (a killed foreground run's container runs on, as docker's
// does), which nothing would end once its store is gone, its cgroup with it.
func removeContainersLeft(root string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := exec.CommandContext(ctx, strataBin, "--root", root, "ps", "-aq", "--no-trunc").Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		exec.CommandContext(ctx, strataBin, append([]string{"--root", root, "rm", "-f"}, ids...)...).Run()
	}
}

// mountsUnder lists the mount points in /proc/self/mountinfo at or below dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

// requiresContainers skips unless this machine can run containers.
func requiresContainers(t *testing.T) {
	t.Helper()
	testutil.Requires(t, testutil.Root, testutil.Overlay)
}
