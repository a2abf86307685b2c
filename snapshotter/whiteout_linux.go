package snapshotter

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-run/strata/layers"
	"golang.org/x/sys/unix"
)

// The image-spec whiteout names (image-spec layer.md#whiteouts), as layer dirs keep them where
// overlay's own markers cannot be made: ".wh.NAME" deletes NAME from the layers below, and
// ".wh..wh..opq" hides everything the layers below have in its directory.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// probeWhiteouts tries to make overlay's markers in root: a 0/0 character device and the
// opaque xattr of mode. Overlayfs refuses both in a filesystem it serves (they are its own
// metadata), so a root on overlayfs, where the vfs driver is the fallback, cannot hold them;
// nor can a root without CAP_MKNOD.
func probeWhiteouts(root string, mode layers.WhiteoutMode) (err error) {
	dir, err := os.MkdirTemp(root, ".probe-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	if err := unix.Mknod(filepath.Join(dir, "wh"), unix.S_IFCHR|0o600, 0); err != nil {
		return err
	}
	name := opaqueXattrs[0]
	if mode == layers.WhiteoutUserXattr {
		name = opaqueXattrs[1]
	}
	return unix.Lsetxattr(dir, name, []byte("y"), 0)
}

// keptWhiteout returns NAME for a kept ".wh.NAME" entry. The opaque marker, and names that
// are not one plain component of a directory (".wh.", ".wh..", ".wh.."), are not whiteouts
// of a sibling: removing them would reach the directory itself or its parent.
func keptWhiteout(name string) (string, bool) {
	target, ok := strings.CutPrefix(name, whiteoutPrefix)
	if !ok || name == whiteoutOpaque || target == "" || target == "." || target == ".." || strings.Contains(target, "/") {
		return "", false
	}
	return target, true
}
