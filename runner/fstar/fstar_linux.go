// Package fstar writes a container's filesystem as a tar: its changes as a layer (commit) or
// the whole of it (export). It is runner's, apart from runner: the tar and compression code
// it links stays out of the container's init.
package fstar

import (
	"archive/tar"
	"context"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/layers"
	"github.com/strata-run/strata/runner"
)

// WriteChanges writes c's writable layer to w as a layer tar (docker commit's): what the
// container added, changed and deleted, overlay's whiteouts as the OCI's ".wh." entries. The
// mount points the init makes for a container whose image lacks them are left out, as docker
// makes its in an init layer that no commit takes. A --read-only container has no changes:
// an empty tar.
func WriteChanges(ctx context.Context, c *runner.Container, w io.Writer) error {
	upper, copy, err := c.FilesystemDirs()
	if err != nil {
		return err
	}
	if copy != "" {
		return fmt.Errorf("container %s: commit is not supported on the vfs storage driver", c.ShortID())
	}
	if upper == "" {
		return tar.NewWriter(w).Close()
	}
	skip := func(name string, st *unix.Stat_t) bool { return runner.IsInitMountpoint(upper, name, st) }
	err = layers.WriteTree(ctx, w, []string{upper}, layers.TreeOptions{Diff: true, Skip: skip, UserXattr: c.OverlayUserXattr()})
	if gone := c.StillThere(); gone != nil {
		// Removed while it was read (rm -f): what was written is what the removal had
		// left, not the container's changes. The commit went on with part of them.
		return gone
	}
	if err != nil {
		return fmt.Errorf("container %s: reading its writable layer: %w", c.ShortID(), err)
	}
	return nil
}

// Export writes c's whole filesystem to w as a plain tar (docker export): its writable layer
// over lowers (the image's layer dirs, top first, as the caller finds them from the image,
// never from the container's record), merged as overlayfs shows them, whiteouts applied and
// none written. Volumes and the kernel filesystems mounted in a running container are not
// in it, as they are not in docker's. It reads the dirs, not a mount: a stopped container
// is exported as a running one.
func Export(ctx context.Context, c *runner.Container, lowers []string, w io.Writer) error {
	upper, copy, err := c.FilesystemDirs()
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
	// Holes: a container's sparse file of a terabyte is exported as its data, not as a
	// terabyte of zeros (docker's export writes it whole); every tar reader makes it again.
	err = layers.WriteTree(ctx, w, dirs, layers.TreeOptions{UserXattr: c.OverlayUserXattr(), Holes: true})
	if gone := c.StillThere(); gone != nil {
		// Removed while it was read (rm -f): export wrote part of its files, and the
		// image's in place of the rest, and exited 0.
		return gone
	}
	if err != nil {
		return fmt.Errorf("container %s: reading its filesystem: %w", c.ShortID(), err)
	}
	return nil
}
