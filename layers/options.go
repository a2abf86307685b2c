package layers

import (
	"archive/tar"
	"errors"
	"github.com/strata-run/strata/internal/freespace"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Defaults used when an Options field is zero. They are generous enough for any real image and
// small enough that a decompression bomb stops long before it fills a disk.
const (
	DefaultMaxSize      int64 = 64 << 30
	DefaultMaxEntries         = 1 << 20
	DefaultMinFreeBytes       = freespace.Default
)

// spaceCheckInterval is how many bytes of file content Apply writes between two statfs calls:
// often enough to stop before the disk is full, rare enough to cost nothing.
const spaceCheckInterval = 16 << 20

// inodeCost is what each entry, and each parent directory Apply makes, counts toward
// spaceCheckInterval besides its content: a block, what a directory takes.
const inodeCost = 4 << 10

// bytesPerInode turns MinFreeBytes into a reserve of free inodes too (mke2fs's default ratio):
// a layer of empty directories or files runs a filesystem out of inodes before out of bytes.
const bytesPerInode = 16 << 10

// WhiteoutMode says how Apply writes the image-spec whiteout entries (".wh.NAME" and the opaque
// marker ".wh..wh..opq").
type WhiteoutMode int

const (
	// WhiteoutOverlay writes a whiteout as a 0/0 character device named NAME and marks an opaque
	// directory with the xattr trusted.overlay.opaque="y": what overlayfs reads in a lowerdir
	// when mounted by root. It is the default.
	WhiteoutOverlay WhiteoutMode = iota
	// WhiteoutUserXattr is WhiteoutOverlay with the opaque marker in user.overlay.opaque, for
	// overlay mounts with the userxattr option (rootless, in a user namespace).
	WhiteoutUserXattr
	// WhiteoutKeep does not interpret whiteouts: ".wh." entries are extracted as the files they
	// are, for a snapshotter that copies layers and applies the whiteouts itself. A directory
	// the layer makes over its own file or symlink gets an opaque marker file, as it gets
	// overlay's opaque xattr in the other modes.
	WhiteoutKeep
)

// String names the mode as a flag value would.
func (m WhiteoutMode) String() string {
	switch m {
	case WhiteoutOverlay:
		return "overlay"
	case WhiteoutUserXattr:
		return "user-xattr"
	case WhiteoutKeep:
		return "keep"
	}
	return "unknown"
}

// Options tunes Apply. The zero value is the default: media type detected from the stream,
// default bounds, overlay whiteouts, owners applied.
type Options struct {
	// MediaType is the layer's media type from the manifest, or "": it must be a layer media
	// type (ErrUnsupportedMediaType). The compression is the one the stream's first bytes
	// show, whatever the media type says, as docker and containerd read layers (Decompress).
	MediaType types.MediaType
	// MaxSize bounds the uncompressed tar and, separately, the bytes of file content written.
	// The holes of sparse entries have budgets of their own: they are applied without being
	// read, up to 1024 times MaxSize of holes in a layer; the holes of a crafted entry whose
	// sparse map cannot be told for certain are read out as zeros by archive/tar, up to 4 GiB
	// (or MaxSize when lower). 0 means DefaultMaxSize.
	MaxSize int64
	// MaxEntries bounds the number of tar entries. 0 means DefaultMaxEntries.
	MaxEntries int
	// MinFreeBytes makes Apply fail with ErrLowDiskSpace when the free space on the layer dir's
	// filesystem drops below it while writing, or its free inodes below MinFreeBytes/16 KiB.
	// 0 means the default: DefaultMinFreeBytes, or 5% of a smaller filesystem
	// (freespace.Floor); <0 disables it.
	MinFreeBytes int64
	// Whiteouts says how whiteout entries are written.
	Whiteouts WhiteoutMode
	// NoAUFSMeta treats AUFS's metadata at the root of the tar (".wh..wh.aufs",
	// ".wh..wh.orph/", ".wh..wh.plnk/", which layers docker made on its aufs driver carry) as
	// any other name, for a tar that is no layer (docker cp's, which docker extracts as
	// given): a file is a file where whiteouts are kept, a name under one is refused. By
	// default a layer's are left out, as docker and containerd apply layers, and a hard link
	// to a regular file of ".wh..wh.plnk" links that file's content and metadata.
	NoAUFSMeta bool
	// IgnoreOwners skips chown (entries belong to the caller) and tolerates EPERM on privileged
	// xattrs (trusted.*, security.*), so tests and rootless callers can apply layers.
	IgnoreOwners bool
	// ExpectDiffID, when set, is compared with the DiffID computed while applying; a difference
	// fails Apply with ErrDiffIDMismatch (the caller passes the image config's rootfs.diff_ids
	// entry).
	ExpectDiffID v1.Hash
	// Entry, when set, sees each entry's header before it is applied (global PAX headers
	// aside), everything before it applied already: it may change the header's owner, mode
	// and times, leave the entry out (skip), or end Apply with its error, returned as it is.
	// For a tar that is no layer (docker cp's), whose rules are the caller's: with Entry set,
	// Apply reads no further than the tar's end (a stdin that goes on after it is not read
	// to its end), and the DiffID it returns covers only what it read.
	Entry func(hdr *tar.Header) (skip bool, err error)
	// Progress, when set, is called every 16 MiB of file content (each entry counting 4 KiB
	// more) and once at the end with the bytes of file content written so far and the entries
	// applied. It must return quickly.
	Progress func(written int64, entries int)
}

func (o Options) maxSize() int64 {
	if o.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return o.MaxSize
}

func (o Options) maxEntries() int {
	if o.MaxEntries <= 0 {
		return DefaultMaxEntries
	}
	return o.MaxEntries
}

func (o Options) minFree() int64 {
	switch {
	case o.MinFreeBytes == 0:
		return DefaultMinFreeBytes
	case o.MinFreeBytes < 0:
		return 0
	}
	return o.MinFreeBytes
}

// Errors callers branch on. Apply wraps them with the entry and what it was doing.
var (
	// ErrUnsafePath: an entry name, hard link target or whiteout target climbs out of the layer
	// dir, or names the layer dir itself where that makes no sense.
	ErrUnsafePath = errors.New("path escapes the layer dir")
	// ErrTooLarge: the uncompressed layer or its content exceeds Options.MaxSize.
	ErrTooLarge = errors.New("layer too large")
	// ErrTooManyEntries: the tar holds more than Options.MaxEntries entries.
	ErrTooManyEntries = errors.New("too many tar entries")
	// ErrLowDiskSpace: the layer dir's filesystem has less than Options.MinFreeBytes free.
	ErrLowDiskSpace = errors.New("not enough free disk space")
	// ErrUnsupportedMediaType: the media type is not a layer format this package reads.
	ErrUnsupportedMediaType = errors.New("unsupported layer media type")
	// ErrUnsupportedEntry: a tar entry type (or special whiteout name) this package refuses.
	ErrUnsupportedEntry = errors.New("unsupported tar entry")
	// ErrDiffIDMismatch: the computed DiffID differs from Options.ExpectDiffID.
	ErrDiffIDMismatch = errors.New("diffid mismatch")
)
