// Package snapshotter keeps one directory per unpacked layer and prepares container root
// filesystems over them.
//
// Terms:
//
//   - layer dir: one unpacked layer, <root>/snapshots/<hex of DiffID>/. It is complete or
//     absent: Unpack applies the tar into <root>/snapshots/.tmp-<hex>-<random>/, checks the
//     DiffID, syncs and renames it into place. Whiteouts in it are in overlayfs form (0/0
//     character devices, an "overlay.opaque" xattr on opaque dirs), so it serves directly as
//     a lowerdir. Where those markers cannot be made (the vfs driver on a root that is itself
//     on overlayfs, or without CAP_MKNOD) the layer dir keeps the image-spec ".wh." files
//     instead, and the vfs copy applies them. Layer dirs are shared by every container and
//     never written after the rename.
//   - container dir: a directory the caller owns, e.g. <root>/containers/<id>/. Prepare
//     creates upper/, work/ and rootfs/ in it; Remove deletes them and nothing else.
//   - lowers: the layer dirs of an image, read-only. Callers pass DiffIDs bottom (base) first,
//     as in the image config's rootfs.diff_ids; overlay's lowerdir option lists them top first.
//   - upper: the container's writable layer (overlay upperdir); its writes and deletions.
//   - work: overlayfs' scratch dir (workdir), on the same filesystem as upper.
//
// Drivers: "overlay" mounts the lowers with the container's upper; "vfs" copies the lowers
// into rootfs/ (applying whiteouts) where overlay cannot be mounted, at the cost of a copy per
// container.
//
// The snapshotter never mounts: Prepare returns mounts as data (package mount) for the
// runner's init to perform inside the container's mount namespace. No reference counts are
// kept on disk; the caller says which layers are in use when it calls Prune, so it must keep
// collections from running between a Prepare and its record of the container (cmd holds the
// image store's gc.lock shared across both, cache.Store.Hold). Lock files
// (.locks/<hex>.lock) must be regular files: a FIFO or symlink there fails at once
// (lockfile.ErrNotLockFile) rather than hang or lock elsewhere.
//
// A lifecycle:
//
//	s, err := snapshotter.New("/var/lib/strata/snapshots", snapshotter.Options{})
//	// pull: for each layer of the image, as it downloads
//	err = s.UnpackBlob(ctx, diffID, layerDescriptor, verifiedCompressedStream)
//	// run: layers pruned since the pull are unpacked again from the content store, and a
//	// blob not proven to be its layer (see provenDir) is hashed against it
//	err = s.Ensure(ctx, diffID, layerDescriptor, openVerifiedBlob)
//	// mounts as data, performed by the runner at <container dir>/rootfs
//	mounts, err := s.Prepare(ctx, "/var/lib/strata/containers/c1", config.RootFS.DiffIDs, false)
//	// rm: unmounts leftovers, deletes upper/, work/, rootfs/
//	err = s.Remove(ctx, "/var/lib/strata/containers/c1")
//	// image rm / system prune: layers no image or container uses
//	removed, err := s.Prune(ctx, inUse, false)
package snapshotter
