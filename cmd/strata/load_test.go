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
