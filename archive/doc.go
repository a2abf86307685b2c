// Package archive moves images between strata's store and files: it writes image archives
// from the store and loads them back, streaming, with memory that does not grow with the size
// of the images.
//
// Terms, as this package uses them:
//
//   - docker-archive: what `docker save` writes. strata writes the layout Docker 25 and later
//     write, which both `docker load` and `podman load` read: an OCI image layout (oci-layout,
//     index.json, blobs/sha256/<hex>) plus Docker's manifest.json naming each image's config
//     and layers by their blob paths. It reads that layout and the older one, where each
//     layer is an uncompressed <id>/layer.tar and each config <hex>.json.
//   - oci-archive: a tar of an OCI image layout (image-spec image-layout.md), as
//     `skopeo copy … oci-archive:` and `podman save --format oci-archive` write it.
//   - oci-dir: an OCI image layout as a directory.
//   - entry: one file of an archive, named by its cleaned, slash-separated path.
//
// Several images in one archive share blobs: each blob is written once however many images
// use it, which is what makes a bundle of images built on one base about the size of the base
// plus the deltas.
//
// Loading is hostile-input code. A tar stream is read once: each entry is copied into a
// staging directory next to the store while it is hashed, and nothing reaches the store until
// the whole archive was read, every manifest parsed and every blob found with the size its
// descriptor gives. Then the blobs are stored (cache.WriteBlob verifies each digest again) and
// the refs tagged last, under cache.Store.Hold so Prune cannot collect the blobs in between. A
// bad archive therefore fails with one error and leaves neither blob nor ref. Entry names that
// leave the archive (absolute, with "..", longer than PATH_MAX, or with control characters),
// links to anything but a file of the archive (a hard link to an earlier one; a symlink, as
// old docker archives hold, to one before or after it), devices, sparse entries and
// oversized JSON are refused; what a tar stream stages is bounded (LoadOptions.MaxSize, and
// a free-space reserve), as are the bytes of its headers and names, so a gzip bomb stops
// early. Before the first blob is stored, the store's disk must have room for them all (a
// staged copy is removed as soon as its blob is stored, so staged blobs need room for the
// largest of them only). A layout directory is read in place: its files are opened beneath it (os.Root)
// and checked again when opened, so a file swapped for a FIFO or a symlink after the plan
// was made is refused, not read; a symlink the directory holds (tar xf of an old docker
// archive keeps its layer.tar links) is followed only by a relative target to a regular file
// inside it.
package archive
