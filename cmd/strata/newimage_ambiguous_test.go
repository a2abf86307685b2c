package main

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportRefusesAmbiguousNameFirst: import (and commit, through newImageRef) refuses a
// name in the repository named as the digest algorithm ("sha256:x", which reads as an image
// ID), with docker's words, before it reads the tarball: it unpacked the layer and stored its
// blobs, then failed on the name ('writing image: docker.io/library/sha256:x: refusing to
// create an ambiguous tag ...'), leaving a layer no image uses in the store.
func TestImportRefusesAmbiguousNameFirst(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("hi"))
	tw.Close()
	for _, name := range []string{"sha256:x", "sha256", "docker.io/library/sha256:04574bec7a1d"} {
		root := t.TempDir()
		_, err := strata(t, root, b.Bytes(), "--storage-driver", "vfs", "import", "-", name)
		if err == nil || !strings.HasPrefix(err.Error(), "refusing to create an ambiguous tag using digest algorithm as name") {
			t.Errorf("import - %s = %v, want docker's refusal of an ambiguous tag", name, err)
		}
		for _, sub := range []string{"snapshots", filepath.Join("oci", "blobs", "sha256")} {
			entries, _ := os.ReadDir(filepath.Join(root, sub))
			if len(entries) > 0 {
				t.Errorf("import - %s left %d entries in %s", name, len(entries), sub)
			}
		}
	}
	// Only the repository docker.io/library/sha256 reads as an ID.
	for _, name := range []string{"example.com/sha256:x", "someone/sha256:x"} {
		if _, err := newImageRef(name); err != nil {
			t.Errorf("newImageRef(%s) = %v, want the name taken", name, err)
		}
	}
}
