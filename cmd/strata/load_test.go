package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadErrors: a missing input, and an archive that is not one, fail in one line and leave
// the store empty.
func TestLoadErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.tar")
	if err := os.WriteFile(bad, []byte("not a tar archive, just text"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args  []string
		stdin []byte
		want  string
	}{
		{[]string{"load", "-i", filepath.Join(t.TempDir(), "missing.tar")}, nil, "no such file"},
		{[]string{"load", "-i", bad}, nil, "bad.tar: loading archive"},
		{[]string{"load"}, []byte("garbage"), "loading archive"},
		{[]string{"load", "--name", "Not A Ref", "-i", bad}, nil, "invalid reference"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			root := t.TempDir()
			_, err := strata(t, root, tt.stdin, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("strata %v = %v, want one line containing %q", tt.args, err, tt.want)
			}
			if out, _ := strata(t, root, nil, "images", "--format", "{{.Repository}}"); out != "" {
				t.Errorf("images after a failed load = %q", out)
			}
		})
	}
}

// TestLoadQuiet: -q still prints the images loaded, as docker load -q and podman load -q
// do (scripts take the name from that line); it drops the progress only.
func TestLoadQuiet(t *testing.T) {
	out, err := strata(t, t.TempDir(), nil, "load", "-q", "-i", busyboxLayout(t))
	if err != nil || out != "Loaded image: busybox:1.38.0-musl\n" {
		t.Fatalf("load -q = %q, %v", out, err)
	}
}

// TestLoadUnnamed: an archive whose image has no name (skopeo copy … oci-archive:FILE without
// one, docker save <ID>) is stored unnamed, as docker load stores it: "Loaded image ID:", a
// <none> row in images that tag names; --name names it instead.
func TestLoadUnnamed(t *testing.T) {
	layout := filepath.Join(t.TempDir(), "unnamed")
	if err := os.CopyFS(layout, os.DirFS(busyboxLayout(t))); err != nil {
		t.Fatal(err)
	}
	index := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"digest":"sha256:a34ce92094b7b100a98fbd21411a92825f6827b1bc5f6918c253516c90556998","size":608}]}`
	if err := os.WriteFile(filepath.Join(layout, "index.json"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	out, err := strata(t, root, nil, "load", "-i", layout)
	id, ok := strings.CutPrefix(strings.TrimSuffix(out, "\n"), "Loaded image ID: sha256:")
	if err != nil || !ok || len(id) != 64 {
		t.Fatalf("load of an unnamed image = %q, %v; want Loaded image ID: sha256:…", out, err)
	}
	if rows, err := strata(t, root, nil, "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"); err != nil || rows != "<none>:<none> sha256:"+id+"\n" {
		t.Errorf("images after the load = %q, %v; want one <none> row of sha256:%s", rows, err, id)
	}
	if _, err := strata(t, root, nil, "tag", id[:12], "bb:0"); err != nil {
		t.Errorf("tag of the unnamed image by its ID: %v", err)
	}
	out, err = strata(t, root, nil, "load", "--name", "bb:1", "-i", layout)
	if err != nil || out != "Loaded image: bb:1\n" {
		t.Errorf("load --name bb:1 = %q, %v", out, err)
	}
}
