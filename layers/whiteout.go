package layers

import "strings"

// Whiteout names and the overlayfs representation of them. The tar side is
// https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts; the overlay side is
// https://docs.kernel.org/filesystems/overlayfs.html#whiteouts-and-opaque-directories.
const (
	// whiteoutPrefix marks ".wh.NAME": NAME is deleted from the layers below.
	whiteoutPrefix = ".wh."
	// whiteoutMetaPrefix marks names reserved for whiteout metadata. The image-spec defines
	// only the opaque marker; AUFS kept its own metadata at the root of a branch under such
	// names (aufsMeta), which layers docker made on its aufs driver carry.
	whiteoutMetaPrefix = ".wh..wh."
	// aufsLinkDir is AUFS's directory of pseudo-links: a file hard-linked across branches
	// keeps its inode there, and a layer holding one of its names links it from there.
	aufsLinkDir = whiteoutMetaPrefix + "plnk"
	// whiteoutOpaque makes its parent directory opaque: nothing below shows through.
	whiteoutOpaque = ".wh..wh..opq"

	overlayOpaqueTrusted = "trusted.overlay.opaque"
	overlayOpaqueUser    = "user.overlay.opaque"
)

// opaqueXattr is the xattr marking an opaque directory in mode m.
func (m WhiteoutMode) opaqueXattr() string {
	if m == WhiteoutUserXattr {
		return overlayOpaqueUser
	}
	return overlayOpaqueTrusted
}

// overlayXattr reports xattrs that only overlayfs may set. A layer carrying them could forge
// whiteouts, redirects or metacopy files behind the tar's back, so they are dropped.
func overlayXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.")
}

// whiteoutInPath reports whether the clean relative dir has a component named like a
// whiteout. No honest layer has one, and the drivers would read it apart: overlayfs shows a
// directory ".wh.x" as one, the vfs copy of kept whiteouts takes it for a whiteout of x (and a
// directory ".wh..wh..opq" for an opaque marker).
func whiteoutInPath(dir string) bool {
	return strings.HasPrefix(dir, whiteoutPrefix) || strings.Contains(dir, "/"+whiteoutPrefix)
}

// aufsMeta reports whether the clean relative name is, or is under, AUFS's metadata at the
// layer's root: a first component named ".wh..wh.X" other than the opaque marker
// (".wh..wh.aufs", ".wh..wh.orph/...", ".wh..wh.plnk/..."). Docker's and containerd 1.x's
// layer appliers skip those names (pkg/archive UnpackLayer), keeping the regular files of
// ".wh..wh.plnk" aside for the hard links that name them. Deeper down such a name is no
// AUFS metadata and stays refused.
func aufsMeta(name string) bool {
	top, _, _ := strings.Cut(name, "/")
	return strings.HasPrefix(top, whiteoutMetaPrefix) && top != whiteoutOpaque
}
