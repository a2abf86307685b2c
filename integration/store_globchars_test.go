package integration

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStorePathGlobChars runs containers in stores whose paths hold a glob's metacharacters,
// as a --root may. The temp dirs a run clears (a layer's failed unpacks, a volume's cut-short
// copy, a container's rootfs) were found with filepath.Glob on the store's path: under
// "r[x]" what stood in "rx" beside it was removed as the store's own, and under "r[b" every
// unpack and container removal failed ("syntax error in pattern").
func TestStorePathGlobChars(t *testing.T) {
	requiresContainers(t)
	base := newRoot(t)
	const ref = "globroot/img:1"
	headers := []tar.Header{
		{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "data/f", Typeflag: tar.TypeReg, Mode: 0o644},
	}

	root := filepath.Join(base, "r[x]")
	loadVolumeImage(t, root, ref, headers, map[string]string{"data/f": "image\n"})
	var victims []string
	for _, l := range strings.Fields(mustStrata(t, root, "image", "inspect", "-f", `{{range .RootFS.Layers}}{{.}} {{end}}`, ref).Stdout) {
		hex := strings.TrimPrefix(l, "sha256:")
		victims = append(victims, filepath.Join(base, "rx", "snapshots", ".tmp-"+hex+"-victim"))
	}
	victims = append(victims, filepath.Join(base, "rx", "volumes", "gv", ".copyup-victim"))
	for _, v := range victims {
		if err := os.MkdirAll(v, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(v, "keep"), []byte("not the store's\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if r := mustStrata(t, root, "run", "--rm", "-v", "gv:/data", ref, "cat", "/data/f"); r.Stdout != "image\n" {
		t.Errorf("run in %s: stdout %q", root, r.Stdout)
	}
	for _, v := range victims {
		if _, err := os.Stat(filepath.Join(v, "keep")); err != nil {
			t.Errorf("a run in %s removed %s: %v", root, v, err)
		}
	}

	root = filepath.Join(base, "r[b")
	loadVolumeImage(t, root, ref, headers, map[string]string{"data/f": "image\n"})
	if r := strata(t, root, "run", "--rm", "-v", "gv:/data", ref, "cat", "/data/f"); r.Code != 0 || r.Stdout != "image\n" {
		t.Errorf("run in %s: exit %d, stdout %q, stderr %q", root, r.Code, r.Stdout, r.Stderr)
	}
	mustStrata(t, root, "create", "--name", "cc", ref, "true")
	if r := strata(t, root, "rm", "cc"); r.Code != 0 {
		t.Errorf("rm in %s: exit %d, stderr %q", root, r.Code, r.Stderr)
	}
}
