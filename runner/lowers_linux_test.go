package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
)

// TestCheckLowers: a container's root stacks only the store's layer dirs (named by a DiffID's
// hex, real directories) and its own empty or mountpoints dir, as the snapshotter prepares it;
// a lowerdir edited into config.json to name a host dir (/, /etc), a link in the layer dir, a
// dir of another name there, or a root mount of another type is refused where it would be
// mounted (start, cp) or read (diff), in one line. overlayfs mounted any lowerdir given.
func TestCheckLowers(t *testing.T) {
	root := t.TempDir()
	layers := filepath.Join(root, "snapshots")
	hex := strings.Repeat("ab", 32)
	for _, d := range []string{hex, strings.Repeat("cd", 32), ".tmp-x"} {
		if err := os.MkdirAll(filepath.Join(layers, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := strings.Repeat("ef", 32)
	if err := os.Symlink("/etc", filepath.Join(layers, link)); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	s.SetLayerDir(layers)
	c, err := s.Create(Config{Name: "lowers"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"upper", "work", "mountpoints", "empty", "other"} {
		if err := os.Mkdir(filepath.Join(c.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rw := "upperdir=" + filepath.Join(c.Dir, "upper") + ",workdir=" + filepath.Join(c.Dir, "work")
	layer := func(name string) string { return filepath.Join(layers, name) }
	for _, tt := range []struct {
		name  string
		mount mount.Mount
		want  string // "" for accepted
	}{
		{"two layers", overlayRoot("lowerdir="+layer(hex)+":"+layer(strings.Repeat("cd", 32)), rw), ""},
		{"read-only, its mountpoints on top", overlayRoot("lowerdir="+filepath.Join(c.Dir, "mountpoints")+":"+layer(hex), "ro"), ""},
		{"no layers, its empty dir", overlayRoot("lowerdir="+filepath.Join(c.Dir, "empty"), rw), ""},
		{"lowerdir+ of the new API", overlayRoot("lowerdir+="+layer(hex), rw), ""},
		{"the host's root", overlayRoot("lowerdir=/:"+layer(hex), rw), `lowerdir "/" is not one of the store's layer dirs`},
		{"the host's /etc", overlayRoot("lowerdir="+layer(hex)+":/etc", rw), `lowerdir "/etc" is not one of the store's layer dirs`},
		{"a layer's name elsewhere", overlayRoot("lowerdir=/tmp/"+hex, rw), "is not one of the store's layer dirs"},
		{"a relative path", overlayRoot("lowerdir="+hex, rw), "is not one of the store's layer dirs"},
		{"dot-dots out of the layer dir", overlayRoot("lowerdir="+layers+"/"+hex+"/../../../etc", rw), "is not one of the store's layer dirs"},
		{"a dir being unpacked", overlayRoot("lowerdir="+layer(".tmp-x"), rw), "is not one of the store's layer dirs"},
		{"a link in the layer dir", overlayRoot("lowerdir="+layer(link), rw), "is a symlink, not a directory"},
		{"a missing layer", overlayRoot("lowerdir="+layer(strings.Repeat("01", 32)), rw), "no such file or directory"},
		{"another dir of its own", overlayRoot("lowerdir="+filepath.Join(c.Dir, "other"), rw), "is not one of the store's layer dirs"},
		{"no lowerdir", overlayRoot(rw), "has no lowerdir"},
		{"a block device", mount.Mount{Type: "ext4", Source: "/dev/sda1", Target: "/"}, `its root is a "ext4" mount`},
	} {
		c.Config.Spec.Root = []mount.Mount{tt.mount}
		err := checkWritableLayer(c)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: checkWritableLayer = %v, want it accepted", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n")):
			t.Errorf("%s: checkWritableLayer = %v, want one line with %q", tt.name, err, tt.want)
		}
	}
	// diff reads the lowers too.
	c.Config.Spec.Root = []mount.Mount{overlayRoot("lowerdir=/etc", rw)}
	if _, err := Diff(c); err == nil || !strings.Contains(err.Error(), "not one of the store's layer dirs") {
		t.Errorf("Diff with a lowerdir of /etc = %v, want it refused", err)
	}
}

// overlayRoot is a root overlay mount with opts, each of which may hold several, comma
// separated.
func overlayRoot(opts ...string) mount.Mount {
	var o []string
	for _, s := range opts {
		o = append(o, strings.Split(s, ",")...)
	}
	return mount.Mount{Type: "overlay", Source: "overlay", Target: "/", Options: o}
}
