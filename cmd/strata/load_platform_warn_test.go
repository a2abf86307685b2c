package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/strata-run/strata/registry"
)

// strataStderr is strata with the stderr the command wrote.
func strataStderr(t *testing.T, root string, args ...string) (string, string, error) {
	t.Helper()
	cmd := newRootCmd(&globals{})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(bytes.NewReader(nil))
	cmd.SetArgs(append([]string{"--root", root}, args...))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// TestLoadWarnsOfOtherPlatform: load of an archive holding a single-platform image (no
// index) of another platform than the one asked for with --platform, or this host's, loads
// it as before, but warns on stderr naming both, as pull warns (TestPullWarnsOfOtherPlatform):
// load --platform linux/amd64 of a linux/s390x image said nothing, and run then failed with
// "exec format error". In a docker archive and in an OCI layout alike; an image of the
// platform asked for loads without a word.
func TestLoadWarnsOfOtherPlatform(t *testing.T) {
	host := registry.DefaultPlatform().String()
	if host == "linux/s390x" {
		t.Skip("the image is of this host's platform")
	}
	img := s390xImage(t)
	dir := t.TempDir()
	docker := filepath.Join(dir, "docker.tar")
	tag, err := name.NewTag("other/arch:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(docker, tag, img); err != nil {
		t.Fatal(err)
	}
	oci := filepath.Join(dir, "oci")
	lp, err := layout.Write(oci, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "docker.io/other/arch:1"})); err != nil {
		t.Fatal(err)
	}
	for _, archive := range []string{docker, oci} {
		for _, tt := range []struct {
			platform string
			want     string
		}{
			{"", "does not match this host's"},
			{"linux/amd64", "does not match the requested linux/amd64"},
			{"linux/arm64", "does not match the requested linux/arm64"},
		} {
			args := []string{"load", "-i", archive}
			if tt.platform != "" {
				args = append(args, "--platform", tt.platform)
			}
			out, stderr, err := strataStderr(t, t.TempDir(), args...)
			if err != nil || out != "Loaded image: other/arch:1\n" {
				t.Fatalf("%v = %q, %v; want the image loaded", args, out, err)
			}
			if !strings.Contains(stderr, "linux/s390x") || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("%v of a linux/s390x image: stderr %q, want one warning saying %q", args, stderr, tt.want)
			}
		}
		out, stderr, err := strataStderr(t, t.TempDir(), "load", "-i", archive, "--platform", "linux/s390x")
		if err != nil || out != "Loaded image: other/arch:1\n" || stderr != "" {
			t.Errorf("load --platform linux/s390x -i %s = %q, %v, stderr %q; want it loaded without a warning", archive, out, err, stderr)
		}
	}
	// One platform picked from an index is the platform asked for: no warning.
	out, stderr, err := strataStderr(t, t.TempDir(), "load", "-i", busyboxLayout(t), "--platform", host)
	if err != nil || stderr != "" {
		t.Errorf("load --platform %s of a multi-platform layout = %q, %v, stderr %q; want no warning", host, out, err, stderr)
	}
}
