package cache

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The two-process test re-runs this test binary as a second strata process; these variables
// tell the child where the store is and where to report what it fetched.
const (
	childDirEnv    = "STRATA_CACHE_TEST_CHILD_DIR"
	childReportEnv = "STRATA_CACHE_TEST_CHILD_REPORT"
)

// twoProcessImages are built from fixed seeds, so that parent and child build the same blobs.
// They share two of their three layers.
func twoProcessImages(t testing.TB) (parent, child v1.Image) {
	ls := seededLayers(t, 40, 4, 512<<10)
	return imageOf(t, ls[0], ls[1], ls[2]), imageOf(t, ls[0], ls[1], ls[3])
}

// TestHelperChildProcess is the second process of TestWriteImageTwoProcesses; run directly it
// does nothing. It waits for "go" on stdin so both pulls start together, pulls its image and
// writes how many times it fetched each digest.
func TestHelperChildProcess(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestWriteImageTwoProcesses")
	}
	_, img := twoProcessImages(t)
	reg := newFakeRegistry(t, img)
	s := openStore(t, dir)
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatalf("waiting for go: %v", err)
	}
	if _, err := s.WriteImage(context.Background(), "example.com/child:1", img, WriteOptions{Fetch: reg.fetch, Concurrency: 1}); err != nil {
		t.Fatalf("child WriteImage = %v", err)
	}
	b, err := json.Marshal(fetchCounts(reg))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(os.Getenv(childReportEnv), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fetchCounts(r *fakeRegistry) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := map[string]int{}
	for _, c := range r.calls {
		n[c.digest.String()]++
	}
	return n
}

// TestWriteImageTwoProcesses pulls two images that share layers from two processes into one
// store at once: both succeed, and each blob is fetched once across both processes.
func TestWriteImageTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(t.TempDir(), "child.json")
	parentImg, childImg := twoProcessImages(t)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir, childReportEnv+"="+report)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	waited := false
	t.Cleanup(func() {
		if !waited {
			// Only the child this test started, by its pid.
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
			cmd.Wait()
		}
	})

	reg := newFakeRegistry(t, parentImg)
	s := openStore(t, dir)
	io.WriteString(stdin, "go\n")
	stdin.Close()
	_, perr := s.WriteImage(context.Background(), "example.com/parent:1", parentImg, WriteOptions{Fetch: reg.fetch, Concurrency: 1})
	werr := cmd.Wait()
	waited = true
	if perr != nil {
		t.Errorf("parent WriteImage = %v", perr)
	}
	if werr != nil {
		t.Fatalf("child process = %v; output:\n%s", werr, out.String())
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("child report: %v; output:\n%s", err, out.String())
	}
	counts := map[string]int{}
	if err := json.Unmarshal(b, &counts); err != nil {
		t.Fatal(err)
	}
	for d, n := range fetchCounts(reg) {
		counts[d] += n
	}
	for _, img := range []v1.Image{parentImg, childImg} {
		for _, l := range layerDescs(t, img) {
			if n := counts[l.Digest.String()]; n != 1 {
				t.Errorf("layer %s fetched %d times across both processes, want once", short(l.Digest), n)
			}
		}
	}
	checkBlobsHashToNames(t, s)
	checkIngestEmpty(t, s)
	refs, err := s.List()
	if err != nil || len(refs) != 2 {
		t.Errorf("List() after both pulls = %v, %v, want 2 refs", refs, err)
	}
}

// childHangEnv makes the child hang after hangAfter bytes of its first layer, for the parent to
// kill it with SIGKILL mid-download.
const (
	childHangEnv = "STRATA_CACHE_TEST_CHILD_HANG"
	hangAfter    = 300 << 10
)

// TestHelperChildHang is the process TestWriteImageAfterKill kills; run directly it does
// nothing. Once hangAfter bytes of the layer are on disk it prints "ready" and blocks.
func TestHelperChildHang(t *testing.T) {
	dir := os.Getenv(childHangEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestWriteImageAfterKill")
	}
	img, _ := twoProcessImages(t)
	reg := newFakeRegistry(t, img)
	s := openStore(t, dir)
	fetch := func(ctx context.Context, h v1.Hash, off int64) (io.ReadCloser, error) {
		rc, err := reg.fetch(ctx, h, off)
		if err != nil {
			return nil, err
		}
		// The ingest writes what one Read returned before asking for more, so when Read is
		// called after hangAfter bytes, all of them are in the partial file.
		return io.NopCloser(io.MultiReader(io.LimitReader(rc, hangAfter), hangReader{})), nil
	}
	s.WriteImage(context.Background(), "example.com/killed:1", img, WriteOptions{Fetch: fetch, Concurrency: 1})
	t.Fatal("WriteImage returned in a child that should have been killed")
}

// hangReader announces that the child is ready to be killed, then blocks forever.
type hangReader struct{}

func (hangReader) Read([]byte) (int, error) {
	os.Stdout.WriteString("ready\n")
	select {}
}

// TestWriteImageAfterKill kills a pulling process with SIGKILL mid-layer: the next WriteImage
// resumes from the partial file it left, fetching only the rest.
func TestWriteImageAfterKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperChildHang$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childHangEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	killed := false
	t.Cleanup(func() {
		if !killed {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
			cmd.Wait()
		}
	})
	sc := bufio.NewScanner(stdout)
	ready := false
	for sc.Scan() {
		if sc.Text() == "ready" {
			ready = true
			break
		}
	}
	if !ready {
		cmd.Wait()
		killed = true
		t.Fatal("child exited without reaching the hang point")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stdout)
	cmd.Wait()
	killed = true

	img, _ := twoProcessImages(t)
	reg := newFakeRegistry(t, img)
	// Layers start in any order, so find the one the child was killed in by its partial file.
	partials, err := filepath.Glob(filepath.Join(dir, "ingest", "*.partial"))
	if err != nil || len(partials) != 1 {
		t.Fatalf("partial files after kill -9 = %v, %v, want one", partials, err)
	}
	if fi, err := os.Stat(partials[0]); err != nil || fi.Size() != hangAfter {
		t.Fatalf("partial after kill -9 = %v, %v, want %d bytes", fi, err, hangAfter)
	}
	var first v1.Descriptor
	for _, l := range layerDescs(t, img) {
		if strings.HasPrefix(filepath.Base(partials[0]), l.Digest.Hex) {
			first = l
		}
	}
	s := openStore(t, dir)
	rec := newLayerRecorder()
	if _, err := s.WriteImage(context.Background(), "example.com/killed:1", img, WriteOptions{Fetch: reg.fetch, Layer: rec.layer}); err != nil {
		t.Fatalf("WriteImage after kill -9 = %v", err)
	}
	calls := reg.callsFor(first.Digest)
	if len(calls) != 1 || calls[0].offset != hangAfter {
		t.Errorf("fetches of the interrupted layer = %+v, want one at offset %d", calls, hangAfter)
	}
	if !bytes.Equal(rec.got[first.Digest], reg.blobs[first.Digest]) {
		t.Errorf("Layer got %d bytes of the interrupted layer, want all %d", len(rec.got[first.Digest]), first.Size)
	}
	for _, l := range layerDescs(t, img) {
		if !s.HasBlob(l.Digest) {
			t.Errorf("layer %s missing after the resumed pull", short(l.Digest))
		}
	}
	checkBlobsHashToNames(t, s)
	checkIngestEmpty(t, s)
}
