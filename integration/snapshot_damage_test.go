package integration

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunRepairsDamagedLayer: a layer dir emptied or partly deleted by hand after its unpack
// was taken for complete, and run ran the container over an empty or incomplete layer,
// silently. Run now finds the damage (the layer's fingerprint, beside it), unpacks the layer
// again from its blob and the container sees the whole layer; a container running over the
// damaged dir keeps what it had (the dir goes aside, nothing is deleted under it). Without the
// blob, run refuses in one line that says what to do.
func TestRunRepairsDamagedLayer(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	l := gzipLayer(t, []tarEntry{
		{Name: "data/", Type: tar.TypeDir},
		{Name: "data/a", Body: "A"},
		{Name: "data/b", Body: "B"},
		{Name: "top", Body: "T"},
	})
	ref, _ := pushImage(t, reg, "damage/img:v1", alpineBase(t), l)
	for _, driver := range []string{"overlay", "vfs"} {
		t.Run(driver, func(t *testing.T) {
			root := newRoot(t)
			s := func(args ...string) []string { return append([]string{"--storage-driver", driver}, args...) }
			mustStrata(t, root, s("pull", "-q", ref)...)
			layerDir := filepath.Join(root, "snapshots", l.diffID.Hex)
			const want = "ABT"
			cat := []string{"cat", "/data/a", "/data/b", "/top"}
			if out := mustStrata(t, root, s(append([]string{"run", "--rm", ref}, cat...)...)...); out.Stdout != want {
				t.Fatalf("cat = %q, want %q", out.Stdout, want)
			}

			// A container running over the layer when it is damaged.
			mustStrata(t, root, s("run", "-d", "--name", "before", ref, "sleep", "1000")...)
			t.Cleanup(func() { strata(t, root, "rm", "-f", "before") })
			if err := os.Remove(filepath.Join(layerDir, "data", "b")); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(layerDir, "top")); err != nil {
				t.Fatal(err)
			}
			if out := mustStrata(t, root, s(append([]string{"run", "--rm", ref}, cat...)...)...); out.Stdout != want {
				t.Errorf("cat after files were deleted from the layer dir = %q, want %q (stderr %q)", out.Stdout, want, out.Stderr)
			}
			if out := mustStrata(t, root, "exec", "before", "cat", "/data/a"); out.Stdout != "A" {
				t.Errorf("the running container lost /data/a when its layer was replaced: %q", out.Stdout)
			}

			// Emptied, and its blob gone: refused in one line naming what to do.
			entries, err := os.ReadDir(layerDir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if err := os.RemoveAll(filepath.Join(layerDir, e.Name())); err != nil {
					t.Fatal(err)
				}
			}
			digest, _ := l.Digest()
			if err := os.Remove(filepath.Join(root, "oci", "blobs", "sha256", digest.Hex)); err != nil {
				t.Fatal(err)
			}
			out := strata(t, root, s(append([]string{"run", "--rm", ref}, cat...)...)...)
			msg := strings.TrimSpace(out.Stderr)
			if out.Code != 125 || strings.Contains(msg, "\n") || !strings.Contains(msg, "lost files since it was unpacked") ||
				!strings.Contains(msg, "strata pull "+ref) || !strings.Contains(msg, "strata rmi "+ref) {
				t.Errorf("run over an emptied layer without its blob: exit %d, stderr %q; want 125 and one line naming strata pull and rmi", out.Code, out.Stderr)
			}
			// As the line says: pull again, and run sees the whole layer.
			mustStrata(t, root, s("pull", "-q", ref)...)
			if out := mustStrata(t, root, s(append([]string{"run", "--rm", ref}, cat...)...)...); out.Stdout != want {
				t.Errorf("cat after pulling again = %q, want %q (stderr %q)", out.Stdout, want, out.Stderr)
			}
		})
	}
}

// TestStartRepairsDamagedLayer: a container created before its layer dir was damaged ran on
// the damaged dir at its start, which checked nothing (only run and create did). Every start
// now checks the layer dirs its root stacks: the layer is unpacked again from its blob into
// the path the container's overlay names, and start -a sees the whole layer; without the
// blob, the start is refused in run's one line.
func TestStartRepairsDamagedLayer(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	l := gzipLayer(t, []tarEntry{
		{Name: "data/", Type: tar.TypeDir},
		{Name: "data/a", Body: "A"},
		{Name: "data/b", Body: "B"},
		{Name: "top", Body: "T"},
	})
	ref, _ := pushImage(t, reg, "damage/start:v1", alpineBase(t), l)
	root := newRoot(t)
	s := func(args ...string) []string { return append([]string{"--storage-driver", "overlay"}, args...) }
	mustStrata(t, root, s("pull", "-q", ref)...)
	layerDir := filepath.Join(root, "snapshots", l.diffID.Hex)
	const want = "ABT"
	mustStrata(t, root, s("create", "--name", "cdmg", ref, "cat", "/data/a", "/data/b", "/top")...)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "cdmg") })

	if err := os.Remove(filepath.Join(layerDir, "data", "b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(layerDir, "top")); err != nil {
		t.Fatal(err)
	}
	if out := strata(t, root, s("start", "-a", "cdmg")...); out.Code != 0 || out.Stdout != want {
		t.Errorf("start -a after files were deleted from the layer dir: exit %d, stdout %q, want %q (stderr %q)", out.Code, out.Stdout, want, out.Stderr)
	}

	// Emptied, and its blob gone: refused in one line naming what to do.
	entries, err := os.ReadDir(layerDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(layerDir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	digest, _ := l.Digest()
	if err := os.Remove(filepath.Join(root, "oci", "blobs", "sha256", digest.Hex)); err != nil {
		t.Fatal(err)
	}
	out := strata(t, root, s("start", "-a", "cdmg")...)
	msg := strings.TrimSpace(out.Stderr)
	if out.Code == 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, "lost files since it was unpacked") ||
		!strings.Contains(msg, "strata pull "+ref) {
		t.Errorf("start -a over an emptied layer without its blob: exit %d, stdout %q, stderr %q; want a failure in one line naming strata pull", out.Code, out.Stdout, out.Stderr)
	}
	// As the line says: pull again, and restart sees the whole layer.
	mustStrata(t, root, s("pull", "-q", ref)...)
	if out := strata(t, root, s("start", "-a", "cdmg")...); out.Code != 0 || out.Stdout != want {
		t.Errorf("start -a after pulling again: exit %d, stdout %q, want %q (stderr %q)", out.Code, out.Stdout, want, out.Stderr)
	}
}
