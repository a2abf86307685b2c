package archive

import (
	"errors"
	"fmt"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrUnsafeEntry is returned for an archive entry whose name or link target would leave the
// archive, or whose type (a device, a fifo) has no place in an image archive.
var ErrUnsafeEntry = errors.New("unsafe archive entry")

// maxNameLen bounds entry names and link targets at Linux's PATH_MAX: tar's PAX headers allow
// a megabyte each, and the name table holds every name of up to maxEntries entries.
const maxNameLen = 4096

// cleanName turns a tar entry name into the slash-separated relative path entries are keyed
// by. Absolute names and names with a ".." element are refused outright, even when they would
// clean to something inside ("a/../b"): no tool writes them, so they only come from an
// archive built to probe for an escape.
func cleanName(name string) (string, error) {
	if len(name) > maxNameLen {
		return "", fmt.Errorf("%w: name of %d bytes, more than the %d a path may have", ErrUnsafeEntry, len(name), maxNameLen)
	}
	if name == "" || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w: name %q", ErrUnsafeEntry, name)
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("%w: absolute name %q", ErrUnsafeEntry, name)
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", fmt.Errorf("%w: name %q leaves the archive", ErrUnsafeEntry, name)
		}
	}
	return path.Clean(name), nil
}

// blobName is where an OCI image layout keeps blob h (image-spec image-layout.md#blobs).
func blobName(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// blobDigest returns the digest an entry name blobs/sha256/<hex> claims, or false when the
// name is not a well-formed sha256 blob path. Only sha256 is accepted: it is all the store
// keeps.
func blobDigest(name string) (v1.Hash, bool) {
	hex, ok := strings.CutPrefix(name, "blobs/sha256/")
	if !ok || len(hex) != 64 {
		return v1.Hash{}, false
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return v1.Hash{}, false
		}
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex}, true
}

// short is the 12-hex form errors name digests by.
func short(h v1.Hash) string {
	if len(h.Hex) > 12 {
		return h.Algorithm + ":" + h.Hex[:12]
	}
	return h.String()
}

// errDiffID is wrapped when an uncompressed layer is not the layer its config names.
var errDiffID = errors.New("layer does not match its DiffID")
