package main

import (
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestRunRefusesOtherOS: run and create refuse an image whose config names another operating
// system, as docker's daemon does (image operating system "windows" cannot be used on this
// platform, 125), before anything is made: it ran after only load's warning. An image without
// an os, or with this one's in another case, is this host's; one for another architecture is
// still created, as docker runs it.
func TestRunRefusesOtherOS(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	otherArch := "arm64"
	if runtime.GOARCH == "arm64" {
		otherArch = "amd64"
	}
	storeBusyboxConfigFile(t, root, "docker.io/library/win:1", func(c *v1.ConfigFile) { c.OS = "windows" })
	storeBusyboxConfigFile(t, root, "docker.io/library/free:1", func(c *v1.ConfigFile) { c.OS = "freebsd" })
	storeBusyboxConfigFile(t, root, "docker.io/library/noos:1", func(c *v1.ConfigFile) { c.OS = "" })
	storeBusyboxConfigFile(t, root, "docker.io/library/upper:1", func(c *v1.ConfigFile) { c.OS = "Linux" })
	storeBusyboxConfigFile(t, root, "docker.io/library/arch:1", func(c *v1.ConfigFile) { c.Architecture = otherArch })
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", "noos", "upper", "arch") })

	for _, tc := range []struct{ image, os string }{{"win:1", "windows"}, {"free:1", "freebsd"}} {
		// Create only: a run here would start the test binary as the container's init
		// should the check fail (integration's TestRunRefusesOtherOSBinary runs them).
		for _, args := range [][]string{{"create"}, {"create", "--rm"}} {
			argv := append(append([]string{}, args...), tc.image, "true")
			_, err := strata(t, root, nil, argv...)
			want := `image operating system "` + tc.os + `" cannot be used on this platform`
			if err == nil || exitCodeOf(err) != 125 || !strings.Contains(err.Error(), want) {
				t.Errorf("%s = %v (exit %d), want 125 and %s", strings.Join(argv, " "), err, exitCodeOf(err), want)
			}
		}
	}
	if out, err := strata(t, root, nil, "ps", "-aq"); err != nil || out != "" {
		t.Errorf("ps -aq after the refusals = %q, %v; want nothing made", out, err)
	}
	for _, name := range []string{"noos", "upper", "arch"} {
		if _, err := strata(t, root, nil, "create", "--name", name, name+":1", "true"); err != nil {
			t.Errorf("create %s:1 = %v, want it created", name, err)
		}
	}
}
