package integration

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// importing is a `strata import -` fed through a pipe, stopped mid-tarball.
type importing struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	tw    *tar.Writer
	out   bytes.Buffer
	temp  string // its layer temp file in the store
	bytes int64  // the file's size still to write
}

// startImport starts importing a tarball of one file, writes part of it, and waits for the
// layer temp file the import writes to.
func startImport(t *testing.T, root, ref string) *importing {
	t.Helper()
	before := layerTemps(t, root)
	im := &importing{cmd: exec.Command(strataBin, "--root", root, "import", "-", ref), bytes: 4 << 20}
	im.cmd.Stdout, im.cmd.Stderr = &im.out, &im.out
	in, err := im.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	im.in, im.tw = in, tar.NewWriter(in)
	if err := im.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { im.cmd.Process.Kill(); im.cmd.Wait() })
	if err := im.tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o644, Size: im.bytes, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	im.write(t, 1<<20)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, p := range layerTemps(t, root) {
			if !slices.Contains(before, p) {
				im.temp = p
				return im
			}
		}
	}
	t.Fatalf("strata import made no layer temp file in 30s; it said: %s", im.out.String())
	return nil
}

func (im *importing) write(t *testing.T, n int64) {
	t.Helper()
	if _, err := im.tw.Write(bytes.Repeat([]byte{'x'}, int(n))); err != nil {
		t.Fatalf("feeding strata import: %v", err)
	}
	im.bytes -= n
}

// finish writes the rest of the tarball and waits for the import's success.
func (im *importing) finish(t *testing.T) {
	t.Helper()
	im.write(t, im.bytes)
	if err := im.tw.Close(); err != nil {
		t.Fatal(err)
	}
	im.in.Close()
	if err := im.cmd.Wait(); err != nil {
		t.Fatalf("strata import: %v: %s", err, im.out.String())
	}
}

func (im *importing) kill(t *testing.T) {
	t.Helper()
	im.cmd.Process.Kill()
	im.cmd.Wait()
}

func layerTemps(t *testing.T, root string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(root, "oci", ".new-layer.tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// TestImportKilledTempSwept: the layer temp file a killed `strata import` left in the store
// goes at the next writer's start (a load, an import), not ten minutes later at a prune;
// one a live import still writes stays, through another import and a prune.
func TestImportKilledTempSwept(t *testing.T) {
	requiresContainers(t)
	root, layout := loadedRoot(t)

	killed := startImport(t, root, "killed:1")
	killed.kill(t)
	if !exists(killed.temp) {
		t.Fatalf("the killed import left no %s: the test kills it too late", killed.temp)
	}
	mustStrata(t, root, "load", "-q", "-i", layout)
	if exists(killed.temp) {
		t.Errorf("%s, a killed import's, is still there after a load", filepath.Base(killed.temp))
	}

	killed = startImport(t, root, "killed:2")
	killed.kill(t)
	live := startImport(t, root, "live:1")
	if exists(killed.temp) {
		t.Errorf("%s, a killed import's, is still there after the next import started", filepath.Base(killed.temp))
	}

	tarball := filepath.Join(t.TempDir(), "small.tar")
	writeSmallTar(t, tarball)
	mustStrata(t, root, "import", tarball, "small:1")
	mustStrata(t, root, "image", "prune", "-f")
	if !exists(live.temp) {
		t.Fatalf("%s, a live import's, was removed by another import or a prune", filepath.Base(live.temp))
	}
	live.finish(t)
	if left := layerTemps(t, root); len(left) != 0 {
		t.Errorf("layer temp files left after the imports ended: %q", left)
	}
	mustStrata(t, root, "image", "inspect", "live:1")
}

func writeSmallTar(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("hi\n"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
