package sharebench

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/layers"
)

// unpackedSize is the ideal disk usage of a stored layer's files (see the package doc).
func (p *pull) unpackedSize(l v1.Descriptor) (int64, error) {
	rc, err := p.store.OpenBlob(l.Digest)
	if err != nil {
		return 0, fmt.Errorf("reading layer %s: %w", short(l.Digest), err)
	}
	defer rc.Close()
	n, err := UnpackedSize(rc, l.MediaType, p.block)
	if err != nil {
		return 0, fmt.Errorf("reading layer %s: %w", short(l.Digest), err)
	}
	return n, nil
}

// UnpackedSize reads a layer blob of media type mt ("" detects the compression) and returns
// the disk an ideal store needs for its files: each regular file rounded up to block bytes,
// and one block per directory. Hard links, whiteouts, devices and symlinks (short ones live in
// the inode) take no block; inodes are not counted.
func UnpackedSize(r io.Reader, mt types.MediaType, block int64) (int64, error) {
	if block <= 0 {
		return 0, fmt.Errorf("block size %d: want a positive number of bytes", block)
	}
	dr, err := layers.Decompress(r, mt)
	if err != nil {
		return 0, err
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	var total int64
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return 0, fmt.Errorf("tar entry %d: %w", n, err)
		}
		switch {
		case h.Typeflag == tar.TypeDir:
			total += block
		case h.Typeflag == tar.TypeReg && !isWhiteout(h.Name):
			if h.Size < 0 {
				return 0, fmt.Errorf("tar entry %d (%s): negative size %d", n, h.Name, h.Size)
			}
			total += (h.Size + block - 1) / block * block
		}
	}
}

// isWhiteout tells the image-spec's whiteout files (.wh.<name>, .wh..wh..opq) apart: they
// become overlay markers, not files with data.
// https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts
func isWhiteout(name string) bool {
	i := strings.LastIndexByte(strings.TrimSuffix(name, "/"), '/')
	return strings.HasPrefix(name[i+1:], ".wh.")
}

// blockSize is the block of the file system dir lives on.
func blockSize(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("reading the block size of %s: %w", dir, err)
	}
	if st.Bsize <= 0 {
		return 4096, nil
	}
	return st.Bsize, nil
}

// short is a digest as messages show it: sha256:3f1a2b9c04de.
func short(h v1.Hash) string {
	if len(h.Hex) > 12 {
		return h.Algorithm + ":" + h.Hex[:12]
	}
	return h.String()
}
