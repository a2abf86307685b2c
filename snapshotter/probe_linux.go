package snapshotter

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// probeOverlay mounts a two-lower overlay with an upper inside root, the filesystem that
// will hold layer dirs and (usually) container dirs: overlay may work on /tmp and still
// refuse an upperdir on, say, an overlay root or NFS.
func probeOverlay(root string) (err error) {
	dir, err := os.MkdirTemp(root, ".probe-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	for _, d := range []string{"l1", "l2", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}
	merged := filepath.Join(dir, "merged")
	m := mount.Mount{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + filepath.Join(dir, "l2") + ":" + filepath.Join(dir, "l1"),
		"upperdir=" + filepath.Join(dir, "upper"),
		"workdir=" + filepath.Join(dir, "work"),
	}}
	if err := m.Mount(merged); err != nil {
		return err
	}
	return mount.Unmount(merged, unix.MNT_DETACH)
}
