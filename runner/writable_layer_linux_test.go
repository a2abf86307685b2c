package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-run/strata/mount"
)

// TestCheckWritableLayerInDir: a start mounts a container's writable layer (its overlay's
// upper and work dirs, or the vfs driver's rootfs bind) only from the container's own dir,
// where the snapshotter makes it: a config.json edited to name a host directory (/etc) as
// upperdir or bind source had the container write into it.
func TestCheckWritableLayerInDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	host := t.TempDir() // a real directory outside the container's
	for _, d := range []string{"upper", "work", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	overlay := func(upper, work string) mount.Mount {
		return mount.Mount{Type: "overlay", Source: "overlay", Target: "/", Options: []string{
			"lowerdir=" + host, "upperdir=" + upper, "workdir=" + work,
		}}
	}
	for _, tt := range []struct {
		name string
		root mount.Mount
		ok   bool
	}{
		{"overlay in its dir", overlay(filepath.Join(dir, "upper"), filepath.Join(dir, "work")), true},
		{"vfs in its dir", mount.Mount{Type: "bind", Source: filepath.Join(dir, "rootfs"), Target: "/"}, true},
		{"upper elsewhere", overlay(host, filepath.Join(dir, "work")), false},
		{"work elsewhere", overlay(filepath.Join(dir, "upper"), host), false},
		{"upper through ..", overlay(filepath.Join(dir, "upper", "..", "..", filepath.Base(host)), filepath.Join(dir, "work")), false},
		{"vfs elsewhere", mount.Mount{Type: "bind", Source: host, Target: "/"}, false},
	} {
		c := &Container{ID: "0123456789ab", Dir: dir, Config: Config{Spec: Spec{Root: []mount.Mount{tt.root}}}}
		if err := checkWritableLayer(c); (err == nil) != tt.ok {
			t.Errorf("%s: checkWritableLayer = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

// TestCheckVolumesInDir: a start binds a container's anonymous volumes only from real
// directories of its own dir's volumes dir, where AnonymousVolumes makes them: the init
// follows a symlink in the source, so a volume dir replaced with a link to a host directory
// (or a source edited to name one) had the container write into it.
func TestCheckVolumesInDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	host := t.TempDir()
	vols := filepath.Join(dir, VolumesDir)
	if err := os.MkdirAll(filepath.Join(vols, "0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(vols, "1")); err != nil {
		t.Fatal(err)
	}
	vol := func(src string) mount.Mount {
		return mount.Mount{Type: TypeVolume, Source: src, Target: "/data", Options: []string{"rbind"}}
	}
	for _, tt := range []struct {
		name string
		m    mount.Mount
		ok   bool
	}{
		{"in its dir", vol(filepath.Join(vols, "0")), true},
		{"a bind of a host dir", mount.Mount{Type: "bind", Source: host, Target: "/data"}, true},
		{"a symlink to a host dir", vol(filepath.Join(vols, "1")), false},
		{"a host dir", vol(host), false},
		{"missing", vol(filepath.Join(vols, "2")), false},
	} {
		c := &Container{ID: "0123456789ab", Dir: dir, Config: Config{Spec: Spec{Mounts: []mount.Mount{tt.m}}}}
		if err := checkVolumes(c); (err == nil) != tt.ok {
			t.Errorf("%s: checkVolumes = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
	// The volumes dir itself replaced with a link to a host dir holding a "0".
	if err := os.RemoveAll(vols); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(host, "0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, vols); err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: "0123456789ab", Dir: dir, Config: Config{Spec: Spec{Mounts: []mount.Mount{vol(filepath.Join(vols, "0"))}}}}
	if err := checkVolumes(c); err == nil {
		t.Errorf("checkVolumes of a volumes dir that is a symlink = nil, want refused")
	}
}
