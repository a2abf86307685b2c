package integration

import (
	"archive/tar"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// whiteoutLayers are a base layer with /a/x and /b/y, and a top layer that whiteouts /a/x
// and makes /b opaque with /b/z (image-spec layer.md#whiteouts).
func whiteoutLayers(t *testing.T) []v1.Layer {
	return []v1.Layer{
		gzipLayer(t, []tarEntry{
			{Name: "a/", Type: tar.TypeDir},
			{Name: "a/x", Body: "x"},
			{Name: "a/keep", Body: "keep"},
			{Name: "b/", Type: tar.TypeDir},
			{Name: "b/y", Body: "y"},
		}),
		gzipLayer(t, []tarEntry{
			{Name: "a/", Type: tar.TypeDir},
			{Name: "a/.wh.x"},
			{Name: "b/", Type: tar.TypeDir},
			{Name: "b/.wh..wh..opq"},
			{Name: "b/z", Body: "z"},
		}),
	}
}

// whiteoutListing is what `ls -A /a /b` prints in a container of whiteoutLayers' image.
const whiteoutListing = "/a:\nkeep\n\n/b:\nz\n"

// TestWhiteoutsInContainer runs an image whose top layer deletes a file and makes a directory
// opaque, with each storage driver: in the container the file is gone and the opaque dir
// holds only the top layer's entries.
func TestWhiteoutsInContainer(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	ref, _ := pushImage(t, reg, "wh/img:v1", alpineBase(t), whiteoutLayers(t)...)
	for _, driver := range []string{"overlay", "vfs"} {
		t.Run(driver, func(t *testing.T) {
			root := newRoot(t)
			mustStrata(t, root, "--storage-driver", driver, "pull", "-q", ref)
			out := mustStrata(t, root, "--storage-driver", driver, "run", "--rm", ref, "ls", "-A", "/a", "/b")
			if out.Stdout != whiteoutListing {
				t.Errorf("ls -A /a /b with %s = %q, want %q", driver, out.Stdout, whiteoutListing)
			}
			if m := mountsUnder(t, root); len(m) != 0 {
				t.Errorf("mounts left under the root after run --rm: %v", m)
			}
		})
	}
}

// TestVFSWhenOverlayRefused puts the root on an overlay mount, where overlayfs refuses another
// overlay's upperdir: strata warns once per command and uses vfs, and images pull and run.
func TestVFSWhenOverlayRefused(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	outer := newRoot(t)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(outer, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	merged := filepath.Join(outer, "merged")
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", filepath.Join(outer, "lower"), filepath.Join(outer, "upper"), filepath.Join(outer, "work"))
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mounting the outer overlay: %v", err)
	}
	// Registered after newRoot's cleanup, so it runs first: the root is unmounted before
	// newRoot checks for leftover mounts.
	t.Cleanup(func() {
		if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting the outer overlay: %v", err)
		}
	})
	root := filepath.Join(merged, "root")

	ref := reg.Host + "/library/alpine:" + "3.20.3"
	pull := mustStrata(t, root, "pull", "-q", ref)
	assertWarnsVFS(t, pull.Stderr)
	run := mustStrata(t, root, "run", "--rm", ref, "cat", "/etc/alpine-release")
	assertWarnsVFS(t, run.Stderr)
	if strings.TrimSpace(run.Stdout) != "3.20.3" {
		t.Errorf("cat /etc/alpine-release on vfs = %q, want 3.20.3", run.Stdout)
	}
	// Whiteouts and opaque dirs work too, though overlayfs refuses to create its own
	// whiteout markers (0/0 devices, trusted.overlay.* xattrs) in a filesystem it serves.
	wh, _ := pushImage(t, reg, "wh/img:v1", alpineBase(t), whiteoutLayers(t)...)
	mustStrata(t, root, "pull", "-q", wh)
	out := mustStrata(t, root, "run", "--rm", wh, "ls", "-A", "/a", "/b")
	if out.Stdout != whiteoutListing {
		t.Errorf("ls -A /a /b on vfs over an overlay root = %q, want %q", out.Stdout, whiteoutListing)
	}
	if m := mountsUnder(t, root); len(m) != 0 {
		t.Errorf("mounts left under the root after run --rm: %v", m)
	}
	if r := strata(t, root, "--storage-driver", "overlay", "pull", "-q", ref); r.Code != 1 {
		t.Errorf("--storage-driver overlay on an overlay root = exit %d, want 1 (stderr %q)", r.Code, r.Stderr)
	} else {
		assertOneLineError(t, r.Stderr, "overlay")
	}
}

func assertWarnsVFS(t *testing.T, stderr string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "strata: warning: ") || !strings.Contains(lines[0], "vfs") {
		t.Errorf("stderr = %q, want one line 'strata: warning: …' naming vfs", stderr)
	}
}

// Test130Layers pulls and runs an image of alpine and 130 one-file layers: the overlay
// lowerdir list is then longer than a page, the limit of the classic mount(2) option string.
func Test130Layers(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	ls := make([]v1.Layer, 130)
	for i := range ls {
		ls[i] = gzipLayer(t, []tarEntry{{Name: fmt.Sprintf("f%d", i), Body: fmt.Sprintf("layer %d\n", i)}})
	}
	ref, _ := pushImage(t, reg, "many/layers:130", alpineBase(t), ls...)
	root := newRoot(t)
	mustStrata(t, root, "pull", "-q", "--max-concurrent-downloads", "8", ref)
	// The same layer dirs serve both drivers: overlay mounts 131 lowers, vfs copies them.
	for _, driver := range []string{"overlay", "vfs"} {
		out := mustStrata(t, root, "--storage-driver", driver, "run", "--rm", ref, "cat", "/f0", "/f129")
		if want := "layer 0\nlayer 129\n"; out.Stdout != want {
			t.Errorf("with %s, cat /f0 /f129 = %q, want %q", driver, out.Stdout, want)
		}
	}
}

// TestPullKilledMidUnpack stops a pull while a 2,000-file layer is being unpacked (its
// download throttled, so the unpack, which streams from it, is slow). After SIGKILL no half
// layer appears under its DiffID (at most a .tmp- dir), and the next pull completes and
// removes the leftover. After SIGINT the pull cleans up after itself: nothing is left.
func TestPullKilledMidUnpack(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	const files = 2000
	entries := make([]tarEntry, 0, files+1)
	entries = append(entries, tarEntry{Name: "d/", Type: tar.TypeDir})
	for i := range files {
		entries = append(entries, tarEntry{Name: fmt.Sprintf("d/f%05d", i), Body: "x"})
	}
	big := gzipLayer(t, entries)
	_, _ = pushImage(t, reg, "big/files:v1", alpineBase(t), big)
	slow := throttledProxy(t, reg.Upstream, "/blobs/sha256:"+sha256Hash(big.blob).Hex)
	ref := slow.host + "/big/files:v1"

	t.Run("SIGKILL", func(t *testing.T) {
		root := newRoot(t)
		slow.throttle.Store(true)
		interruptUnpack(t, root, ref, big.diffID.Hex, syscall.SIGKILL)
		complete, other := layerDirs(t, root)
		if contains(complete, big.diffID.Hex) {
			t.Fatalf("a killed unpack left %s as a complete layer dir", big.diffID.Hex)
		}
		if !containsPrefix(other, ".tmp-"+big.diffID.Hex+"-") {
			t.Errorf("snapshots holds %v after the kill; want the killed unpack's .tmp- dir", other)
		}
		// The store with a killed pull in it is still readable.
		for _, l := range systemDf(t, root).Layers {
			if l.DiffID == big.diffID.String() {
				t.Errorf("system df lists the killed layer %s", l.DiffID)
			}
		}

		slow.throttle.Store(false)
		mustStrata(t, root, "pull", "-q", ref)
		complete, other = layerDirs(t, root)
		if !contains(complete, big.diffID.Hex) {
			t.Fatalf("second pull left no layer dir %s (snapshots: %v %v)", big.diffID.Hex, complete, other)
		}
		if containsPrefix(other, ".tmp-") {
			t.Errorf("second pull left temporary dirs: %v", other)
		}
		out := mustStrata(t, root, "run", "--rm", ref, "sh", "-c", "ls /d | wc -l")
		if strings.TrimSpace(out.Stdout) != fmt.Sprint(files) {
			t.Errorf("ls /d | wc -l = %q, want %d", out.Stdout, files)
		}
	})

	t.Run("SIGINT", func(t *testing.T) {
		root := newRoot(t)
		slow.throttle.Store(true)
		code := interruptUnpack(t, root, ref, big.diffID.Hex, syscall.SIGINT)
		if code == 0 {
			t.Errorf("interrupted pull exited 0")
		}
		if complete, other := layerDirs(t, root); contains(complete, big.diffID.Hex) || containsPrefix(other, ".tmp-") {
			t.Errorf("an interrupted unpack left layer dirs %v, others %v; want none of its own", complete, other)
		}
	})
}

// interruptUnpack starts `strata pull ref`, waits until the layer diffHex is being unpacked
// (an early file exists in its temporary dir), sends sig, and returns the exit status.
func interruptUnpack(t *testing.T, root, ref, diffHex string, sig syscall.Signal) int {
	t.Helper()
	cmd := exec.Command(strataBin, "--root", root, "pull", "-q", ref)
	cmd.Env = append(os.Environ(), "STRATA_REGISTRY_MIRROR=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	done := false
	t.Cleanup(func() {
		if !done {
			cmd.Process.Kill()
			<-exited
		}
	})
	// The pull cannot finish first: the rest of the layer trickles in for seconds.
	marker := filepath.Join(root, "snapshots", ".tmp-"+diffHex+"-*", "d", "f00100")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m, _ := filepath.Glob(marker); len(m) > 0 {
			break
		}
		select {
		case err := <-exited:
			done = true
			t.Fatalf("pull ended (%v) before the unpack was seen under way", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the layer's unpack never started")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	<-exited
	done = true
	return cmd.ProcessState.ExitCode()
}

// slowProxy forwards to a registry and, while throttle is set, sends the bodies of GETs whose
// path ends in suffix at about 12 kB/s.
type slowProxy struct {
	host     string
	throttle atomic.Bool
}

func throttledProxy(t *testing.T, upstream, suffix string) *slowProxy {
	t.Helper()
	p := &slowProxy{}
	p.throttle.Store(true)
	target, _ := url.Parse("http://" + upstream)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if p.throttle.Load() && req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, suffix) {
			w = &slowWriter{ResponseWriter: w, ctx: req.Context()}
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	p.host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// slowWriter writes 128 bytes every 10 ms, flushing each, until the client goes away.
type slowWriter struct {
	http.ResponseWriter
	ctx context.Context
}

func (w *slowWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		chunk := min(len(b), 128)
		m, err := w.ResponseWriter.Write(b[:chunk])
		n += m
		if err != nil {
			return n, err
		}
		w.Flush()
		b = b[chunk:]
		select {
		case <-w.ctx.Done():
			return n, w.ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return n, nil
}

func (w *slowWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *slowWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsPrefix(list []string, prefix string) bool {
	for _, x := range list {
		if strings.HasPrefix(x, prefix) {
			return true
		}
	}
	return false
}
