package integration

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// loadPlatformImage loads into root, as ref, alpine with its config's os and architecture
// edited by edit.
func loadPlatformImage(t *testing.T, root, ref string, edit func(*v1.ConfigFile)) {
	t.Helper()
	img := hostAlpine(t)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	edit(cf)
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	mustStrata(t, root, "load", "-i", archive)
}

// TestRunRefusesOtherOSBinary: run, run -d and create refuse an image whose config names
// another operating system with docker's error and 125, and make nothing: a windows image ran
// after only load's warning. An image without an os runs, and one for another architecture
// is not refused for it (docker warns and runs it).
func TestRunRefusesOtherOSBinary(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	loadPlatformImage(t, root, "win:1", func(c *v1.ConfigFile) { c.OS = "windows" })
	loadPlatformImage(t, root, "noos:1", func(c *v1.ConfigFile) { c.OS = "" })
	otherArch := "arm64"
	if runtime.GOARCH == "arm64" {
		otherArch = "amd64"
	}
	loadPlatformImage(t, root, "arch:1", func(c *v1.ConfigFile) { c.Architecture = otherArch })
	t.Cleanup(func() { strata(t, root, "rm", "-f", "arch") })

	for _, args := range [][]string{{"run", "--rm"}, {"run", "-d"}, {"run"}, {"create"}} {
		argv := append(append([]string{}, args...), "win:1", "true")
		checkRefused(t, strings.Join(argv, " "), strata(t, root, argv...), 125, `image operating system "windows" cannot be used on this platform`)
	}
	if out := mustStrata(t, root, "ps", "-aq").Stdout; out != "" {
		t.Errorf("ps -aq after the refusals = %q, want nothing made", out)
	}
	if out := mustStrata(t, root, "run", "--rm", "noos:1", "echo", "ok").Stdout; out != "ok\n" {
		t.Errorf("run noos:1 = %q, want it run", out)
	}
	if r := strata(t, root, "create", "--name", "arch", "arch:1", "true"); r.Code != 0 {
		t.Errorf("create arch:1 = %d %q, want it created", r.Code, r.Stderr)
	}
}
