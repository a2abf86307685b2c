package runner

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/layers"
)

// rootDirs returns where c's filesystem is: its writable layer (overlay's upperdir; "" for a
// --read-only container) or, on the vfs storage driver, its whole copy (bind). Both must be
// in the container's own dir: a config.json edited to name a host path is refused.
func rootDirs(c *Container) (upper, copy string, err error) {
	for _, m := range c.Config.Spec.Root {
		switch m.Type {
		case "overlay":
			_, upper, _ = m.OverlayDirs()
		case "bind":
			if filepath.Clean(m.Target) == "/" {
				copy = m.Source
			}
		}
	}
	for _, d := range []string{upper, copy} {
		if d != "" && !inDir(d, c.Dir) {
			return "", "", fmt.Errorf("container %s: its filesystem %s is not in the container's dir", shortID(c.ID), d)
		}
	}
	return upper, copy, nil
}

// WriteChanges writes c's writable layer to w as a layer tar (docker commit's): what the
// container added, changed and deleted, overlay's whiteouts as the OCI's ".wh." entries. The
// mount points the init makes for a container whose image lacks them are left out, as docker
// makes its in an init layer that no commit takes. A --read-only container has no changes:
// an empty tar.
func WriteChanges(ctx context.Context, c *Container, w io.Writer) error {
	upper, copy, err := rootDirs(c)
	if err != nil {
		return err
	}
	if copy != "" {
		return fmt.Errorf("container %s: commit is not supported on the vfs storage driver", shortID(c.ID))
	}
	if upper == "" {
		return tar.NewWriter(w).Close()
	}
	skip := func(name string, st *unix.Stat_t) bool {
		if !hiddenMountpoints[name] {
			return false
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			return isEmptyDir(upper + name)
		case unix.S_IFREG:
			return st.Size == 0
		}
		return false
	}
	if err := layers.WriteTree(ctx, w, []string{upper}, layers.TreeOptions{Diff: true, Skip: skip}); err != nil {
		return fmt.Errorf("container %s: reading its writable layer: %w", shortID(c.ID), err)
	}
	return nil
}

// Export writes c's whole filesystem to w as a plain tar (docker export): its writable layer
// over lowers (the image's layer dirs, top first, as the caller finds them from the image,
// never from the container's record), merged as overlayfs shows them, whiteouts applied and
// none written. Volumes and the kernel filesystems mounted in a running container are not
// in it, as they are not in docker's. It reads the dirs, not a mount: a stopped container
// is exported as a running one.
func Export(ctx context.Context, c *Container, lowers []string, w io.Writer) error {
	upper, copy, err := rootDirs(c)
	if err != nil {
		return err
	}
	var dirs []string
	switch {
	case copy != "":
		dirs = []string{copy}
	case upper != "":
		dirs = append([]string{upper}, lowers...)
	default:
		dirs = lowers
	}
	if len(dirs) == 0 {
		return tar.NewWriter(w).Close()
	}
	if err := layers.WriteTree(ctx, w, dirs, layers.TreeOptions{}); err != nil {
		return fmt.Errorf("container %s: reading its filesystem: %w", shortID(c.ID), err)
	}
	return nil
}
