package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestDigestAlgorithmName: a repository named sha256 (docker.io/library/sha256) is refused
// as docker's reference store refuses it, in tag and in load, and one already in index.json
// (another tool's) never stands for an image ID: "sha256:<ID>" is how an ID is typed, and an
// archive that named its image sha256:<the ID of busybox> made `run sha256:<that ID>` run
// the archive's image.
func TestDigestAlgorithmName(t *testing.T) {
	root := loadedTestImages(t)
	id := func(arg string) string {
		t.Helper()
		out, err := strata(t, root, nil, "image", "inspect", "--format", "{{.Id}}", arg)
		if err != nil {
			t.Fatalf("image inspect %s: %v", arg, err)
		}
		return strings.TrimSpace(out)
	}
	busybox, alpine := id("busybox:1.38.0-musl"), id("alpine:latest")
	if busybox == alpine || !strings.HasPrefix(busybox, "sha256:") {
		t.Fatalf("IDs busybox %q, alpine %q", busybox, alpine)
	}

	for _, name := range []string{busybox, "sha256:sometag", "sha256", "docker.io/library/sha256:x"} {
		if _, err := strata(t, root, nil, "tag", "alpine:latest", name); err == nil || !strings.Contains(err.Error(), "ambiguous") {
			t.Errorf("tag alpine:latest %s = %v, want docker's refusal of an ambiguous tag", name, err)
		}
	}
	// Only docker.io/library/sha256 is the digest algorithm's name, as in docker.
	for _, name := range []string{"example.com/sha256:x", "someone/sha256:x", "sha256x:1"} {
		if _, err := strata(t, root, nil, "tag", "alpine:latest", name); err != nil {
			t.Errorf("tag alpine:latest %s = %v", name, err)
		}
	}

	// An OCI layout that names alpine sha256:<busybox's ID> too loads alpine without that
	// name (with a warning), as docker's containerd store loads it: the store never holds it.
	dir := filepath.Join(t.TempDir(), "dir")
	if _, err := strata(t, root, nil, "save", "--format", "oci-dir", "-o", dir, "alpine:latest"); err != nil {
		t.Fatal(err)
	}
	rename := func(path, name string) {
		t.Helper()
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var idx v1.IndexManifest
		if err := json.Unmarshal(raw, &idx); err != nil {
			t.Fatal(err)
		}
		d := idx.Manifests[0]
		d.Annotations = map[string]string{"org.opencontainers.image.ref.name": name}
		idx.Manifests = append(idx.Manifests, d)
		if raw, err = json.Marshal(idx); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rename(filepath.Join(dir, "index.json"), busybox)
	fresh := t.TempDir()
	if out, err := strata(t, fresh, nil, "load", "-i", dir); err != nil || !strings.HasPrefix(out, "Loaded image: alpine:latest\n") {
		t.Errorf("load of an image named alpine:latest and %s = %q, %v, want alpine loaded", busybox, out, err)
	}
	if out, _ := strata(t, fresh, nil, "images", "--format", "{{.Repository}}:{{.Tag}}"); out != "alpine:latest\n" {
		t.Errorf("images after the load = %q, want alpine:latest alone", out)
	}
	if out, err := strata(t, fresh, nil, "image", "inspect", busybox); err == nil {
		t.Errorf("image inspect %s after the load = %q: the archive's name was stored", busybox, out)
	}

	// Such a name written into the store by another tool: the ID still finds busybox.
	rename(filepath.Join((&globals{root: root}).storeDir(), "index.json"), "docker.io/library/"+busybox)
	if got := id(busybox); got != busybox {
		t.Errorf("image inspect %s = %s, want busybox's image, not the one the name sha256 tags", busybox, got)
	}
}
