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
