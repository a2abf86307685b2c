package cache

import (
	"bufio"
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
