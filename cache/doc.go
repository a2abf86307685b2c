// Package cache is strata's content store: an OCI image layout on disk, written so that a crash
// or a concurrent strata process never leaves a reader with a half-made image.
//
// Terms, as this package uses them:
//
//   - blob: content addressed by its sha256 Digest, stored at blobs/sha256/<hex>. A blob is only
//     ever visible under its name after its digest and size were verified and it was fsynced.
//   - ingest: ingest/<hex>.partial holds a download in progress. It survives errors and kill -9 so
//     the next WriteImage resumes from its size; ingest/<hex>.lock makes sure only one process
//     appends to it.
//   - ref: a full reference string ("docker.io/library/alpine:latest"), stored in index.json as
//     the annotation org.opencontainers.image.ref.name of one manifest descriptor, or of one
//     index descriptor for a multi-platform image stored whole (WriteIndex). An index ref is
//     complete: every manifest, config and layer below it is stored. ImageFor picks the
//     manifest to run from it.
//   - image ID: the digest of an image's config blob, as docker shows it; for an index ref, the
//     index's digest, as docker's containerd image store shows it.
//
// On-disk layout (image-spec image-layout.md), under the directory given to Open:
//
//	oci-layout                 {"imageLayoutVersion":"1.0.0"}
//	index.json                 one manifest (or index) descriptor per ref
//	index.json.lock            flock held while index.json is rewritten
//	gc.lock                    shared while images are written, exclusive while Prune runs
//	blobs/sha256/<hex>         verified blobs
//	ingest/<hex>.partial       resumable downloads; ingest/<hex>.lock guards each one
//
// The locks are flock(2)s, so a process killed while holding one blocks nobody: the lock dies
// with it. A lock file, index.json or a blob that is not a regular file (a FIFO, a symlink for
// a lock) fails the command at once with its path, rather than hang it in open(2).
//
// Every write is a temp file, fsync, rename and a fsync of the directory (containerd
// plugins/content/local/writer.go does the same), so a reader sees the old file or the new one.
// Images are written blobs first and the manifest and its ref last, so a ref never names an
// image whose blobs are missing.
//
// A blob damaged on disk after it was stored (truncated by a bad copy, a flipped bit) is not
// trusted: a writer that finds a blob file of the wrong size stores it again (Has, WriteBlob,
// WriteImage); a reader that finds content hashing to another digest (ReadBlob, a layer
// streamed from disk) reports ErrDigestMismatch and removes the file, so the next pull
// repairs it. Downloads stop with ErrNoSpace while the disk keeps MinFree (256 MiB, or 5% of a
// smaller filesystem).
package cache
