// Package layers turns one layer, a (compressed) tar stream, into one directory, safely.
//
// Terms used here:
//
//   - layer: a tar stream, possibly gzip- or zstd-compressed, as stored in a registry or the
//     content store. Its Digest covers the compressed bytes, its DiffID the uncompressed tar.
//   - layer dir: the directory a layer is applied into. It must exist and should be empty: Apply
//     treats everything in it as belonging to the layer (hard links may point at it, repeated
//     names replace it).
//   - whiteout: an entry that deletes a path of the layers below
//     (https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts). By default
//     whiteouts are written the way overlayfs reads them, so a layer dir can serve directly as a
//     lowerdir.
//
// AUFS metadata: layers docker made on its aufs storage driver (2013-2017, still on Docker Hub)
// carry AUFS's own names at their root, ".wh..wh.aufs", ".wh..wh.orph/" and ".wh..wh.plnk/",
// whose regular files are the targets of hard links elsewhere in the layer. As docker and
// containerd 1.x apply such a layer, those names are left out and a hard link to a pseudo-link
// gets its file (here, its inode: the file is kept aside in a hidden directory of the layer
// dir until the end of the apply). Such a name below the root stays refused, as does a hard
// link to a pseudo-link the tar has not given before it; Options.NoAUFSMeta is for tars that
// are no layer.
//
// Confinement: every entry name is taken relative to the layer dir. A leading "/" is dropped
// (absolute names are rooted at the layer dir, as docker does), and a name whose ".." climbs
// above the layer dir is refused with ErrUnsafePath rather than silently cleaned; hard link
// targets and whiteout targets follow the same rule. Parent directories are opened with openat2
// and RESOLVE_IN_ROOT, so symlinks that a layer plants (to "/", to "../..") resolve inside the
// layer dir; the entry itself is then created with *at system calls that never follow a symlink
// in the last component. Symlink targets are stored verbatim: they are never followed here.
// Every directory that takes entries must have a path shorter than PATH_MAX less a name (symlink
// hops could otherwise nest a tree deeper than any path names); deeper ones fail with
// ENAMETOOLONG.
//
// Xattrs: a layer sets user.* and trusted.* xattrs, file capabilities, POSIX ACLs and IMA/EVM
// values; overlay's own xattrs and the host's MAC labels (SELinux, Smack, AppArmor) are dropped.
//
// Device nodes: made as the tar gives them, which needs CAP_MKNOD. In a user namespace, where
// no device node can be made, they are left out, as docker and containerd leave them out there;
// fifos and whiteouts are made everywhere.
//
// On error, Apply leaves a half-applied layer dir behind; the caller removes it (the
// snapshotter unpacks into a temporary dir and renames it into place only on success).
package layers
