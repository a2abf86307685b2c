package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPullWarnsOfOtherPlatform: a single-platform image (no index) of another platform than
// the one asked for, or this host's, is pulled as it is, as before, but with a warning on
// stderr naming both, as podman warns (docker refuses it with --platform, and warns at run):
// it said nothing, and the image then failed at run with "exec format error".
func TestPullWarnsOfOtherPlatform(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img := s390xImage(t)
	ref := host + "/other/arch:1"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithContext(context.Background())); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "does not match this host's"},
		{[]string{"--platform", "linux/amd64"}, "does not match the requested linux/amd64"},
	} {
		var stdout, stderr bytes.Buffer
		g := &globals{root: t.TempDir()}
		o := pullOptions{concurrency: 1, progress: "plain", noUnpack: true}
		if len(tt.args) > 0 {
			o.platform = tt.args[1]
		}
		if err := runPull(context.Background(), g, o, ref, &stdout, &stderr); err != nil {
			t.Fatalf("pull %v %s: %v", tt.args, ref, err)
		}
		if got := stderr.String(); !strings.Contains(got, "linux/s390x") || !strings.Contains(got, tt.want) || strings.Count(got, "\n") != 1 {
			t.Errorf("pull %v of a linux/s390x image: stderr %q, want one warning saying %q", tt.args, got, tt.want)
		}
	}
	// An image of the platform asked for pulls without a word.
	var stdout, stderr bytes.Buffer
	o := pullOptions{concurrency: 1, progress: "plain", noUnpack: true, platform: "linux/s390x"}
	if err := runPull(context.Background(), &globals{root: t.TempDir()}, o, ref, &stdout, &stderr); err != nil || stderr.Len() != 0 {
		t.Errorf("pull --platform linux/s390x = %v, stderr %q; want no warning", err, stderr.String())
	}
}

// s390xImage is a small random image whose config says linux/s390x: an image of another
// platform than the hosts the tests run on.
func s390xImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "s390x"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}
