package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadDigestAlgorithmName: a layout whose index.json names its image "sha256:<hex>" loads
// the image without that name, with a one-line warning of it, as docker's containerd store
// loads it; the load failed whole ("refusing to create an ambiguous tag").
func TestLoadDigestAlgorithmName(t *testing.T) {
	layout := filepath.Join(t.TempDir(), "named-by-digest")
	if err := os.CopyFS(layout, os.DirFS(busyboxLayout(t))); err != nil {
		t.Fatal(err)
	}
	name := "sha256:" + strings.Repeat("ab", 32)
	index := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"digest":"sha256:a34ce92094b7b100a98fbd21411a92825f6827b1bc5f6918c253516c90556998","size":608,` +
		`"annotations":{"org.opencontainers.image.ref.name":"` + name + `"}}]}`
	if err := os.WriteFile(filepath.Join(layout, "index.json"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cmd := newRootCmd(&globals{})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"--root", root, "load", "-i", layout})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("load of an image named %s: %v; want it loaded without the name", name, err)
	}
	id, ok := strings.CutPrefix(out.String(), "Loaded image ID: sha256:")
	if !ok || len(id) != 65 {
		t.Fatalf("load said %q; want Loaded image ID: sha256:…", out.String())
	}
	want := `strata: warning: image ` + id[:12] + `: ignoring the name "` + name + `" the archive gives it: refusing to create an ambiguous tag using digest algorithm as name` + "\n"
	if errOut.String() != want {
		t.Errorf("load warned %q; want %q", errOut.String(), want)
	}
	if rows, err := strata(t, root, nil, "images", "--format", "{{.Repository}}:{{.Tag}}"); err != nil || rows != "<none>:<none>\n" {
		t.Errorf("images after the load = %q, %v; want one <none> row", rows, err)
	}
}
