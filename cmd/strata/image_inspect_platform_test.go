package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestImageInspectPlatform: image inspect --platform, as docker's, describes that platform's
// image of a multi-platform one (architecture, variant, config, layers, size) where the
// image itself keeps its ID; a platform the image does not hold is an error naming what it
// holds, and so is another platform of a single-platform image. It failed with "unknown
// flag: --platform", and inspect showed this host's platform only.
func TestImageInspectPlatform(t *testing.T) {
	root := loadedTestImages(t)
	const format = "{{.Id}} {{.Os}}/{{.Architecture}}/{{.Variant}} {{len .RootFS.Layers}}"
	host, err := strata(t, root, nil, "image", "inspect", "-f", format, "alpine")
	if err != nil {
		t.Fatal(err)
	}
	arm, err := strata(t, root, nil, "image", "inspect", "--platform", "linux/arm64", "-f", format, "alpine")
	if want := alpineIndex + " linux/arm64/v8 1\n"; err != nil || arm != want {
		t.Errorf("image inspect --platform linux/arm64 alpine = %q, %v; want %q", arm, err, want)
	}
	amd, err := strata(t, root, nil, "image", "inspect", "--platform", "linux/amd64", "-f", format, "alpine")
	if want := alpineIndex + " linux/amd64/ 1\n"; err != nil || amd != want {
		t.Errorf("image inspect --platform linux/amd64 alpine = %q, %v; want %q (without --platform: %q)", amd, err, want, host)
	}
	cfg := func(platform string) string {
		out, err := strata(t, root, nil, "image", "inspect", "--platform", platform, "-f", "{{json .RootFS.Layers}} {{.Size}}", "alpine")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if cfg("linux/amd64") == cfg("linux/arm64") {
		t.Errorf("image inspect shows the same layers and size for amd64 and arm64: %q", cfg("linux/amd64"))
	}
	if out, err := strata(t, root, nil, "image", "inspect", "--platform", "linux/s390x", "alpine"); err == nil || !strings.Contains(err.Error(), "linux/s390x") || !strings.Contains(err.Error(), "linux/arm64") {
		t.Errorf("image inspect --platform linux/s390x alpine = %q, %v; want an error naming what it holds", out, err)
	}
	// One platform of it, saved and loaded: a single-platform image.
	tar := filepath.Join(t.TempDir(), "arm.tar")
	if _, err := strata(t, root, nil, "save", "--platform", "linux/arm64", "-o", tar, "alpine"); err != nil {
		t.Fatal(err)
	}
	single := t.TempDir()
	if _, err := strata(t, single, nil, "load", "-q", "-i", tar); err != nil {
		t.Fatal(err)
	}
	if out, err := strata(t, single, nil, "image", "inspect", "--platform", "linux/arm64", "-f", "{{.Architecture}}", "alpine"); err != nil || out != "arm64\n" {
		t.Errorf("image inspect --platform linux/arm64 of a single arm64 image = %q, %v", out, err)
	}
	if out, err := strata(t, single, nil, "image", "inspect", "--platform", "linux/amd64", "alpine"); err == nil || !strings.Contains(err.Error(), "does not provide the specified platform (linux/amd64)") {
		t.Errorf("image inspect --platform linux/amd64 of a single arm64 image = %q, %v; want a refusal", out, err)
	}
}
