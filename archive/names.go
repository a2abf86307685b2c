package archive

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

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
	// A newline or an escape sequence in a name would split or rewrite the error lines
	// that name it; no tool that writes image archives makes one.
	if strings.ContainsFunc(name, unicode.IsControl) || !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: name %s has control characters or is not UTF-8", ErrUnsafeEntry, quoted(name))
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

// maxQuoted bounds what an error shows of a string the archive gives: a media type or a
// platform of megabytes must not make a message of megabytes.
const maxQuoted = 64

// quoted is s, from the archive, as an error shows it: as it is when short and printable,
// else quoted (a newline or an escape sequence cannot split or rewrite the line) and cut
// to maxQuoted bytes.
func quoted(s string) string {
	if len(s) <= maxQuoted && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return s
	}
	if len(s) > maxQuoted {
		return strconv.Quote(s[:maxQuoted]) + "..."
	}
	return strconv.Quote(s)
}

// maxErrLen bounds the message of a parse error.
const maxErrLen = 256

// parseError is an error of encoding/json, whose message may quote a value of the archive
// whole: a digest of 3 MB made "wrong number of hex digits for sha256: aaa…" a line of 3 MB.
type parseError struct{ err error }

func (e parseError) Unwrap() error { return e.err }

func (e parseError) Error() string {
	s := e.err.Error()
	if len(s) > maxErrLen || strings.ContainsFunc(s, unicode.IsControl) {
		if len(s) > maxErrLen {
			s = s[:maxErrLen] + "..."
		}
		s = strings.Trim(strconv.Quote(s), `"`)
	}
	return s
}

// parsing wraps an error of json.Unmarshal, for errors to quote it within bounds.
func parsing(err error) error {
	if err == nil {
		return nil
	}
	return parseError{err}
}

// maxListed bounds how many platforms an error lists: an index may list a thousand.
const maxListed = 8

// listed joins the platforms an index has for an error, each quoted as needed, at most
// maxListed of them.
func listed(have []string) string {
	var b strings.Builder
	for i, h := range have {
		if i == maxListed {
			fmt.Fprintf(&b, " and %d more", len(have)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoted(h))
	}
	return b.String()
}
