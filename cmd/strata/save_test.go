package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testimages"
)

// strata runs the CLI in-process on root with args, returning stdout and the error execute
// would print.
func strata(t *testing.T, root string, stdin []byte, args ...string) (string, error) {
	t.Helper()
	g := &globals{}
	cmd := newRootCmd(g)
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(bytes.NewReader(stdin))
	cmd.SetArgs(append([]string{"--root", root}, args...))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// loadedTestImages loads the test images (internal/testimages: alpine, busybox) into a new
// store and returns its root.
func loadedTestImages(t *testing.T) string {
	t.Helper()
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(t.TempDir(), "layout")
	if err := testimages.WriteLayout(td, layout); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", layout); err != nil {
		t.Fatal(err)
	}
	return root
}

func busyboxLayout(t *testing.T) string {
	t.Helper()
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(td, "busybox", "busybox-1.38.0-musl-oci")
}

const busyboxDigest = "sha256:a34ce92094b7b100a98fbd21411a92825f6827b1bc5f6918c253516c90556998"

// TestSaveLoadCLI: load the busybox layout, save it in each format, load each into a fresh
// root: the same digest, and docker's "Loaded image" lines.
func TestSaveLoadCLI(t *testing.T) {
	src := t.TempDir()
	out, err := strata(t, src, nil, "load", "-i", busyboxLayout(t))
	if err != nil || out != "Loaded image: busybox:1.38.0-musl\n" {
		t.Fatalf("load -i layout = %q, %v", out, err)
	}
	tmp := t.TempDir()
	tests := []struct {
		name string
		save []string
		load func(t *testing.T, root string, path string, stdout string) (string, error)
	}{
		{"docker-archive file", []string{"-o", filepath.Join(tmp, "d.tar")}, fromFile},
		{"oci-archive file", []string{"--format", "oci-archive", "-o", filepath.Join(tmp, "o.tar")}, fromFile},
		{"oci-dir", []string{"--format", "oci-dir", "-o", filepath.Join(tmp, "dir")}, fromFile},
		{"stdout to stdin", nil, func(t *testing.T, root, _, stdout string) (string, error) {
			return strata(t, root, []byte(stdout), "load")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, err := strata(t, src, nil, append(append([]string{"save"}, tt.save...), "busybox:1.38.0-musl")...)
			if err != nil {
				t.Fatalf("save = %v", err)
			}
			path := ""
			if len(tt.save) > 0 {
				path = tt.save[len(tt.save)-1]
			}
			dst := t.TempDir()
			out, err := tt.load(t, dst, path, stdout)
			if err != nil || out != "Loaded image: busybox:1.38.0-musl\n" {
				t.Fatalf("load = %q, %v", out, err)
			}
			got, err := strata(t, dst, nil, "images", "--format", "{{.Digest}}")
			if err != nil || strings.TrimSpace(got) != busyboxDigest {
				t.Errorf("images after load = %q, %v; want %s", got, err, busyboxDigest)
			}
		})
	}
	// No temp file is left beside the archives.
	ents, _ := os.ReadDir(tmp)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("%s left behind", e.Name())
		}
	}
}

func fromFile(t *testing.T, root, path, _ string) (string, error) {
	return strata(t, root, nil, "load", "-i", path)
}

// TestSaveErrors: each bad invocation fails with a message that says what to do, and writes
// no file.
func TestSaveErrors(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "x.tar")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"save", "-o", out, "alpine"}, "not in the store"},
		{[]string{"save", "-o", out, "--format", "zip", "busybox:1.38.0-musl"}, "unknown archive format"},
		{[]string{"save", "-o", out, "--platform", "linux/arm64", "--all-platforms", "busybox:1.38.0-musl"}, "exclude each other"},
		{[]string{"save", "-o", out, "--all-platforms", "busybox:1.38.0-musl"}, "only one platform"},
		{[]string{"save", "-o", out, "--platform", "linux/s390x", "busybox:1.38.0-musl"}, "not linux/s390x"},
		{[]string{"save", "--format", "oci-dir", "busybox:1.38.0-musl"}, "needs -o DIR"},
		{[]string{"save", "-o", filepath.Join(t.TempDir(), "missing", "x.tar"), "busybox:1.38.0-musl"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			_, err := strata(t, root, nil, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("strata %v = %v, want an error containing %q", tt.args, err, tt.want)
			}
			if _, serr := os.Stat(out); serr == nil {
				t.Errorf("%s written by a failed save", out)
			}
		})
	}
}
