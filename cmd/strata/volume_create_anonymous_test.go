package main

import (
	"strings"
	"testing"
)

// TestVolumeCreateUnnamedIsAnonymous: `volume create` without a name makes an anonymous
// volume, as docker's daemon does (volume/service Create puts com.docker.volume.anonymous on
// the volume it names at random), so `volume prune` without -a removes it once unused, as
// docker's: it made a volume that only prune -a removed, and inspect showed no label.
func TestVolumeCreateUnnamedIsAnonymous(t *testing.T) {
	root := t.TempDir()
	anon, err := strata(t, root, nil, "volume", "create")
	if anon = strings.TrimSpace(anon); err != nil || len(anon) != 64 {
		t.Fatalf("volume create = %q, %v; want a generated name", anon, err)
	}
	if _, err := strata(t, root, nil, "volume", "create", "keep"); err != nil {
		t.Fatal(err)
	}
	labels, err := strata(t, root, nil, "volume", "inspect", "--format", "{{json .Labels}}", anon, "keep")
	if want := "{\"com.docker.volume.anonymous\":\"\"}\nnull\n"; err != nil || labels != want {
		t.Errorf("volume inspect's labels = %q, %v; want %q", labels, err, want)
	}
	out, err := strata(t, root, nil, "volume", "prune", "-f")
	if want := "Deleted Volumes:\n" + anon + "\n\nTotal reclaimed space: 0B\n"; err != nil || out != want {
		t.Errorf("volume prune -f = %q, %v; want %q", out, err, want)
	}
	if out, err := strata(t, root, nil, "volume", "ls", "-q"); err != nil || out != "keep\n" {
		t.Errorf("volume ls -q after prune = %q, %v; want the named volume kept", out, err)
	}
}
