package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/internal/testutil"
)

// concFixture is a registry holding three images that share alpine's layer, and an archive of
// two of them, for tests that run many strata processes on one root at once.
type concFixture struct {
	a, b, c string // refs: alpine, alpine+1 layer, alpine+2 layers
	archive string // `strata save` of b and c, as conc/lb:1 and conc/lc:1
	env     []string
}

func newConcFixture(t *testing.T) *concFixture {
	t.Helper()
	testutil.Requires(t, testutil.Root)
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := map[string]bool{"amd64": true, "arm64": true}[testimages.HostArch()]; !ok {
		t.Skipf("the alpine fixture has no image for %s", testimages.HostArch())
	}
	base, err := testimages.AlpineImage(td, testimages.AlpineVersion, testimages.HostArch())
	if err != nil {
		t.Fatal(err)
	}
	host := startSlowRegistry(t)
	f := &concFixture{
		a:   host + "/conc/a:1",
		b:   host + "/conc/b:1",
		c:   host + "/conc/c:1",
		env: testEnv(t.TempDir()),
	}
	ctx := context.Background()
	b := appendRandom(t, base, 1<<20)
	c := appendRandom(t, appendRandom(t, base, 1<<20), 512<<10)
	for ref, img := range map[string]v1.Image{"conc/a:1": base, "conc/b:1": b, "conc/c:1": c} {
		if err := push(ctx, host, ref, img); err != nil {
			t.Fatal(err)
		}
	}
	src := newRoot(t)
	mustRun(t, f.env, "", src, "pull", "-q", f.b)
	mustRun(t, f.env, "", src, "pull", "-q", f.c)
	mustRun(t, f.env, "", src, "tag", f.b, "conc/lb:1")
	mustRun(t, f.env, "", src, "tag", f.c, "conc/lc:1")
	f.archive = filepath.Join(t.TempDir(), "bc.tar")
	mustRun(t, f.env, "", src, "save", "-o", f.archive, "conc/lb:1", "conc/lc:1")
	return f
}

// startSlowRegistry serves go-containerregistry's in-memory registry on 127.0.0.1, sending
// blobs 64 KiB at a time every 4 ms (about 16 MB/s), so that a pull lasts long enough for a
// kill to land in the middle of a download.
func startSlowRegistry(t *testing.T) string {
	t.Helper()
	h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/") {
			w = &throttledWriter{ResponseWriter: w}
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

type throttledWriter struct {
	http.ResponseWriter
}

func (w *throttledWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), 64<<10)
		m, err := w.ResponseWriter.Write(p[:c])
		n += m
		if err != nil {
			return n, err
		}
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		time.Sleep(4 * time.Millisecond)
		p = p[c:]
	}
	return n, nil
}

// proc is a strata process a test started, with its outcome once waited for.
type proc struct {
	args           []string
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	code           int
}

// start starts strata --root root args... without waiting for it.
func (f *concFixture) start(t *testing.T, root string, args ...string) *proc {
	t.Helper()
	p := &proc{args: args}
	p.cmd = exec.Command(strataBin, append([]string{"--root", root}, args...)...)
	p.cmd.Env = f.env
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting strata %v: %v", args, err)
	}
	// Killed by its PID if the test ends first; Wait reaps it in every case.
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// wait waits up to a minute for p (a strata that hangs on a lock fails the test and is
// killed) and returns its exit status; -1 when killed.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		<-done
		t.Errorf("strata %v still running after a minute: killed", p.args)
	}
	p.code = p.cmd.ProcessState.ExitCode()
	return p.code
}

// oneLine fails the test unless p's failure was one "strata: " line.
func (p *proc) oneLine(t *testing.T) {
	t.Helper()
	e := p.stderr.String()
	if !strings.HasPrefix(e, "strata: ") || strings.Count(e, "\n") != 1 {
		t.Errorf("strata %v: exit %d, stderr %q: want one line", p.args, p.code, e)
	}
}

// TestConcurrentStoreCommands runs pulls of images sharing a layer, a load of two of them,
// prune, prune -a, rmi, tag, system df and images on one root at once, a few rounds. Pulls,
// loads, prunes, df and images must all succeed; rmi and tag may find their image gone, with
// one line. After each round the store must be whole: index.json valid, every listed image's
// blobs present and verified. After a final prune nothing is left over.
func TestConcurrentStoreCommands(t *testing.T) {
	f := newConcFixture(t)
	root := newRoot(t)
	mustRun(t, f.env, "", root, "pull", "-q", f.a)
	for round := 0; round < 3; round++ {
		var ps []*proc
		must := map[*proc]bool{}
		add := func(mustSucceed bool, args ...string) {
			p := f.start(t, root, args...)
			ps = append(ps, p)
			must[p] = mustSucceed
		}
		add(true, "pull", "-q", f.b)
		add(true, "pull", "-q", f.c)
		add(true, "pull", "-q", f.b)
		add(true, "load", "-q", "-i", f.archive)
		add(true, "load", "-q", "-i", f.archive)
		add(true, "prune")
		add(true, "prune")
		add(true, "system", "df")
		add(true, "images")
		add(false, "rmi", f.b)
		add(false, "tag", f.a, "conc/t:1")
		add(false, "rmi", "conc/t:1")
		add(false, "tag", f.c, "conc/t:1")
		if round == 1 {
			add(true, "prune", "-a")
		}
		for _, p := range ps {
			code := p.wait(t)
			switch {
			case code == 0:
			case must[p]:
				t.Errorf("round %d: strata %v: exit %d: %s", round, p.args, code, p.stderr.String())
			default:
				p.oneLine(t)
			}
		}
		checkStore(t, root)
	}
	mustRun(t, f.env, "", root, "prune")
	checkStore(t, root)
	checkNoLeftovers(t, root)
}

// TestKillStoreCommands SIGKILLs pull, load, rmi, prune, tag and save at random moments, by
// the PID of the process the test started, many times over. After each kill the next command
// must complete (a lock a killed process held dies with it) and the store be whole; at the
// end pulls complete what killed ones started, and a prune leaves nothing over.
func TestKillStoreCommands(t *testing.T) {
	f := newConcFixture(t)
	root := newRoot(t)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewSource(seed))
	out := filepath.Join(t.TempDir(), "out.tar")
	ops := [][]string{
		{"pull", "-q", f.b},
		{"pull", "-q", f.c},
		{"pull", "-q", f.a},
		{"load", "-q", "-i", f.archive},
		{"rmi", f.c},
		{"rmi", "conc/lb:1"},
		{"prune"},
		{"prune", "-a"},
		{"tag", f.a, "conc/t:1"},
		{"save", "-o", out, f.a},
	}
	deadline := time.Now().Add(25 * time.Second)
	killed := 0
	for i := 0; i < 40 && time.Now().Before(deadline); i++ {
		op := ops[rnd.Intn(len(ops))]
		p := f.start(t, root, op...)
		time.Sleep(time.Duration(rnd.Intn(150)) * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.wait(t)
		if p.code == -1 {
			killed++
		}
		if p.code != 0 && p.code != -1 {
			// Finished before the kill: a failure must be an ordinary one (rmi of a removed
			// image), one line.
			p.oneLine(t)
		}
		// Each takes a lock the killed process may have held: gc.lock exclusive, then
		// index.json.lock.
		for _, args := range [][]string{{"prune", "--dry-run"}, {"tag", f.a, "conc/k:1"}, {"images", "-q"}} {
			next := f.start(t, root, args...)
			if code := next.wait(t); code != 0 && !strings.Contains(next.stderr.String(), "is not in the store") {
				t.Fatalf("after killing strata %v: %v: exit %d: %s", op, args, code, next.stderr.String())
			}
		}
		checkStore(t, root)
	}
	t.Logf("%d commands killed before they finished", killed)
	for _, ref := range []string{f.a, f.b, f.c} {
		mustRun(t, f.env, "", root, "pull", "-q", ref)
	}
	mustRun(t, f.env, "", root, "load", "-q", "-i", f.archive)
	mustRun(t, f.env, "", root, "prune")
	checkStore(t, root)
	checkNoLeftovers(t, root)
	t.Run("run", func(t *testing.T) {
		requiresContainers(t)
		mustRun(t, f.env, "", root, "run", "--rm", f.c, "true")
	})
}

// TestRunVersusRmi starts containers from an image while rmi -f and prune -a remove it: a run
// either runs or fails with one line, and a container that started keeps its layers (exec in
// it works) after the image and everything unused are gone.
func TestRunVersusRmi(t *testing.T) {
	requiresContainers(t)
	f := newConcFixture(t)
	root := newRoot(t)
	started := 0
	const runs = 12
	for i := 0; i < runs; i++ {
		mustRun(t, f.env, "", root, "pull", "-q", f.b)
		name := fmt.Sprintf("race%d", i)
		t.Cleanup(func() { run(t, f.env, "", root, "rm", "-f", name) })
		r := f.start(t, root, "run", "-d", "--name", name, f.b, "sleep", "60")
		time.Sleep(time.Duration(i%6*15) * time.Millisecond)
		rmi := f.start(t, root, "rmi", "-f", f.b)
		pr := f.start(t, root, "prune", "-a")
		if code := rmi.wait(t); code != 0 {
			rmi.oneLine(t)
		}
		if code := pr.wait(t); code != 0 {
			t.Errorf("prune -a: exit %d: %s", code, pr.stderr.String())
		}
		if code := r.wait(t); code != 0 {
			// Failing cleanly is failing because the image or its layers went first, before
			// the container was made; never a container made over layer dirs that a prune
			// then deleted (its overlay mount failing on a missing lowerdir).
			r.oneLine(t)
			if e := r.stderr.String(); !strings.Contains(e, "is not in the store") && !strings.Contains(e, "layer not unpacked") && !strings.Contains(e, "missing from the store") {
				t.Errorf("run %d failed for another reason than its image being removed: %s", i, e)
			}
			run(t, f.env, "", root, "rm", "-f", name) // made or not, as docker leaves it
			continue
		}
		started++
		// The layer only b has, and alpine's: both still there under the running container.
		mustRun(t, f.env, "", root, "prune", "-a")
		if x := run(t, f.env, "", root, "exec", name, "cat", "/etc/alpine-release"); x.Code != 0 {
			t.Errorf("exec in %s after rmi -f and prune -a: exit %d: %s", name, x.Code, x.Stderr)
		}
		mustRun(t, f.env, "", root, "rm", "-f", name)
	}
	t.Logf("%d of %d runs started", started, runs)
	mustRun(t, f.env, "", root, "prune", "-a")
	checkStore(t, root)
	checkNoLeftovers(t, root)
}

// checkStore checks what must hold at any instant, whatever was killed: index.json parses,
// and every image it names has its manifest, config and layers stored, each hashing to its
// digest and of its size.
func checkStore(t *testing.T, root string) {
	t.Helper()
	store := filepath.Join(root, "oci")
	b, err := os.ReadFile(filepath.Join(store, "index.json"))
	if err != nil {
		t.Fatalf("reading index.json: %v", err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("index.json does not parse: %v: %q", err, b)
	}
	for _, d := range idx.Manifests {
		ref := d.Annotations["org.opencontainers.image.ref.name"]
		raw := verifiedBlob(t, store, ref, d)
		if raw == nil {
			continue
		}
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Errorf("%s: manifest does not parse: %v", ref, err)
			continue
		}
		verifiedBlob(t, store, ref, m.Config)
		for _, l := range m.Layers {
			verifiedBlob(t, store, ref, l)
		}
	}
}

// verifiedBlob reads the blob d of image ref, failing the test unless it is there with d's
// size and digest; it returns the bytes of a small blob (nil for a layer or on failure).
func verifiedBlob(t *testing.T, store, ref string, d v1.Descriptor) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(store, "blobs", d.Digest.Algorithm, d.Digest.Hex))
	if err != nil {
		t.Errorf("image %s: blob %s: %v", ref, d.Digest, err)
		return nil
	}
	defer f.Close()
	h := sha256.New()
	var small bytes.Buffer
	w := io.Writer(h)
	if d.Size < 1<<20 {
		w = io.MultiWriter(h, &small)
	}
	n, err := io.Copy(w, f)
	if err != nil || n != d.Size || hex.EncodeToString(h.Sum(nil)) != d.Digest.Hex {
		t.Errorf("image %s: blob %s: %d bytes (want %d), err %v, or wrong digest", ref, d.Digest, n, d.Size, err)
		return nil
	}
	return small.Bytes()
}

// checkNoLeftovers checks, after a prune, that nothing is left beyond the images: no partial
// downloads or temp files, no blob nor layer dir no image uses, no staging dir of a load.
func checkNoLeftovers(t *testing.T, root string) {
	t.Helper()
	store := filepath.Join(root, "oci")
	b, err := os.ReadFile(filepath.Join(store, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	blobs, diffIDs := map[string]bool{}, map[string]bool{}
	for _, d := range idx.Manifests {
		blobs[d.Digest.Hex] = true
		var m v1.Manifest
		if raw, err := os.ReadFile(filepath.Join(store, "blobs", "sha256", d.Digest.Hex)); err == nil && json.Unmarshal(raw, &m) == nil {
			blobs[m.Config.Digest.Hex] = true
			for _, l := range m.Layers {
				blobs[l.Digest.Hex] = true
			}
			var cfg v1.ConfigFile
			if raw, err := os.ReadFile(filepath.Join(store, "blobs", "sha256", m.Config.Digest.Hex)); err == nil && json.Unmarshal(raw, &cfg) == nil {
				for _, d := range cfg.RootFS.DiffIDs {
					diffIDs[d.Hex] = true
				}
			}
		}
	}
	list := func(dir string) []string {
		ents, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	for _, n := range list(filepath.Join(store, "blobs", "sha256")) {
		if !blobs[n] {
			t.Errorf("blob %s left that no image uses", n)
		}
	}
	for _, n := range list(filepath.Join(store, "ingest")) {
		t.Errorf("ingest/%s left after prune", n)
	}
	for _, n := range list(store) {
		if strings.Contains(n, ".tmp-") {
			t.Errorf("temp file oci/%s left after prune", n)
		}
	}
	for _, n := range list(root) {
		if strings.HasPrefix(n, ".load") {
			t.Errorf("load staging dir %s left after prune", n)
		}
	}
	for _, n := range list(filepath.Join(root, "snapshots")) {
		switch {
		case strings.HasPrefix(n, ".tmp-"):
			t.Errorf("temporary layer dir snapshots/%s left after prune", n)
		case len(n) == 64 && !diffIDs[n]:
			t.Errorf("layer dir snapshots/%s left that no image uses", n)
		}
	}
}

// TestSaveVersusRmi saves an image while rmi removes it and collects its blobs: the save either
// finds the image gone, or writes a whole archive that loads. A save that had found the image
// used to read its blobs without holding off the collection, and failed midway with a blob
// not found.
func TestSaveVersusRmi(t *testing.T) {
	f := newConcFixture(t)
	root := newRoot(t)
	dst := newRoot(t)
	saved := 0
	for i := 0; i < 16; i++ {
		mustRun(t, f.env, "", root, "load", "-q", "-i", f.archive)
		out := filepath.Join(t.TempDir(), "out.tar")
		// rmi first on even rounds: its start-up and lock-taking take about as long as save's
		// finding the image, so their steps interleave; save first on odd ones, so that some
		// saves find the image and race the collection.
		var r, s *proc
		if i%2 == 0 {
			r = f.start(t, root, "rmi", "conc/lb:1", "conc/lc:1")
			time.Sleep(time.Duration(i%8) * time.Millisecond)
			s = f.start(t, root, "save", "-o", out, "conc/lb:1", "conc/lc:1")
		} else {
			s = f.start(t, root, "save", "-o", out, "conc/lb:1", "conc/lc:1")
			time.Sleep(time.Duration(i%8) * time.Millisecond)
			r = f.start(t, root, "rmi", "conc/lb:1", "conc/lc:1")
		}
		if code := r.wait(t); code != 0 {
			t.Errorf("rmi: exit %d: %s", code, r.stderr.String())
		}
		if code := s.wait(t); code != 0 {
			s.oneLine(t)
			if !strings.Contains(s.stderr.String(), "is not in the store") {
				t.Errorf("save %d failed for another reason than its image being removed first: %s", i, s.stderr.String())
			}
			continue
		}
		saved++
		mustRun(t, f.env, "", dst, "load", "-q", "-i", out)
	}
	t.Logf("%d of 16 saves completed", saved)
	if saved > 0 { // else dst has no store to check: every save found the image gone
		checkStore(t, dst)
	}
}

// TestTagVersusRmi tags an image while rmi removes it and collects its blobs: the new name
// either is refused (the image was gone) or names a whole image. A tag that had found the
// image gave the name to a manifest whose blobs the collection had deleted meanwhile: a
// listed image that could not be read.
func TestTagVersusRmi(t *testing.T) {
	f := newConcFixture(t)
	root := newRoot(t)
	tagged := 0
	for i := 0; i < 24; i++ {
		mustRun(t, f.env, "", root, "load", "-q", "-i", f.archive)
		r := f.start(t, root, "rmi", "conc/lb:1")
		time.Sleep(time.Duration(i%8) * time.Millisecond)
		name := fmt.Sprintf("conc/t%d:1", i)
		g := f.start(t, root, "tag", "conc/lb:1", name)
		if code := r.wait(t); code != 0 {
			t.Errorf("rmi: exit %d: %s", code, r.stderr.String())
		}
		if code := g.wait(t); code != 0 {
			g.oneLine(t)
		} else {
			tagged++
		}
		checkStore(t, root)
		run(t, f.env, "", root, "rmi", name)
	}
	t.Logf("%d of 24 tags made", tagged)
}

// TestListVersusRmi lists images (images, system df, prune -a) while rmi removes two of them
// and collects their blobs: each must succeed. images read index.json, then each image's
// manifest, and failed whole on one that an rmi had removed in between.
func TestListVersusRmi(t *testing.T) {
	f := newConcFixture(t)
	root := newRoot(t)
	mustRun(t, f.env, "", root, "pull", "-q", f.a)
	lists := [][]string{{"images"}, {"system", "df"}, {"images", "-a"}}
	for i := 0; i < 24; i++ {
		mustRun(t, f.env, "", root, "load", "-q", "-i", f.archive)
		r := f.start(t, root, "rmi", "conc/lb:1", "conc/lc:1")
		time.Sleep(time.Duration(i%8) * time.Millisecond)
		l := f.start(t, root, lists[i%len(lists)]...)
		if code := r.wait(t); code != 0 {
			t.Errorf("rmi: exit %d: %s", code, r.stderr.String())
		}
		if code := l.wait(t); code != 0 {
			t.Errorf("strata %v during rmi: exit %d: %s", l.args, code, l.stderr.String())
		}
	}
	checkStore(t, root)
}

// TestReadOnlyStore: a root on a read-only filesystem still lists its images, and every
// command that must write fails at once with one line naming what it could not write, none
// hangs on a lock.
func TestReadOnlyStore(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	root := newRoot(t)
	env := testEnv(t.TempDir())
	mustRun(t, env, "", root, "load", "-q", "-i", filepath.Join(td, "busybox", "busybox-1.38.0-musl-oci"))
	mustRun(t, env, "", root, "tag", "busybox:1.38.0-musl", "other:1")
	// A container store that exists, empty.
	mustRun(t, env, "", root, "create", "--name", "ro", "other:1", "true")
	mustRun(t, env, "", root, "rm", "ro")
	if err := syscall.Mount(root, root, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("bind mount: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(root, syscall.MNT_DETACH) })
	if err := syscall.Mount("", root, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("remount read-only: %v", err)
	}
	if r := run(t, env, "", root, "images", "-q"); r.Code != 0 || r.Stdout == "" {
		t.Errorf("images on a read-only root: exit %d, %q: %s", r.Code, r.Stdout, r.Stderr)
	}
	// What only reads the containers reads them (their store was chmodded on every open).
	if r := run(t, env, "", root, "ps", "-a", "-q"); r.Code != 0 || r.Stdout != "" {
		t.Errorf("ps -a on a read-only root: exit %d, %q: %s", r.Code, r.Stdout, r.Stderr)
	}
	if r := run(t, env, "", root, "system", "df"); r.Code != 0 {
		t.Errorf("system df on a read-only root: exit %d: %s", r.Code, r.Stderr)
	}
	// A prune with nothing to remove writes nothing.
	if r := run(t, env, "", root, "prune"); r.Code != 0 || !strings.Contains(r.Stdout, "Total reclaimed space: 0B") {
		t.Errorf("prune of nothing on a read-only root: exit %d, %q: %s", r.Code, r.Stdout, r.Stderr)
	}
	out := filepath.Join(t.TempDir(), "out.tar")
	if r := run(t, env, "", root, "save", "-o", out, "other:1"); r.Code != 0 {
		t.Errorf("save from a read-only root: exit %d: %s", r.Code, r.Stderr)
	}
	for _, args := range [][]string{
		{"tag", "busybox:1.38.0-musl", "new:1"},
		{"rmi", "other:1"},
		{"prune", "-a"},
		{"load", "-i", out},
	} {
		r := run(t, env, "", root, args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "read-only file system") {
			t.Errorf("strata %v on a read-only root: exit %d, stderr %q: want a read-only error", args, r.Code, r.Stderr)
		}
		p := &proc{args: args, code: r.Code}
		p.stderr.WriteString(r.Stderr)
		p.oneLine(t)
	}
}
