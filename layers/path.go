package layers

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"
)

// cleanName maps a tar name (or hard link target) to a clean path relative to the layer dir: ""
// for the layer dir itself, never with a leading "/" or a "..". Absolute names are rooted at the
// layer dir; a ".." that climbs above it is refused (docker refuses those too, pkg/archive
// breakoutError), because no honest layer writer produces one.
func cleanName(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("%w: name contains a NUL byte", ErrUnsafePath)
	}
	c := cleanPath(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", ErrUnsafePath
	}
	if c == "." {
		return "", nil
	}
	return c, nil
}

// cleanPath is path.Clean of name without its leading "/", minus the allocation for the
// names real layers hold ("./usr/bin/env", "usr/lib/"), which only need slicing.
func cleanPath(name string) string {
	s := strings.TrimLeft(name, "/")
	for strings.HasPrefix(s, "./") {
		s = strings.TrimLeft(s[2:], "/")
	}
	s = strings.TrimSuffix(s, "/")
	if s == "" {
		return "."
	}
	if s == "." || s == ".." || strings.Contains(s, "//") || strings.Contains(s, "/./") ||
		strings.Contains(s, "/../") || strings.HasPrefix(s, "../") ||
		strings.HasSuffix(s, "/.") || strings.HasSuffix(s, "/..") || strings.HasSuffix(s, "/") {
		return path.Clean(s)
	}
	return s
}

// splitName splits a clean relative name into its parent ("" for the layer dir) and base.
func splitName(name string) (dir, base string) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return "", name
	}
	return name[:i], name[i+1:]
}

// maxDisplay bounds how much of a hostile name goes into an error message.
const maxDisplay = 200

// display returns a name fit for an error message: as is when it is short and printable,
// otherwise quoted and truncated, so a tar cannot forge terminal output through our errors.
func display(name string) string {
	plain := len(name) <= maxDisplay
	if plain {
		for _, r := range name {
			if !unicode.IsPrint(r) || r == '"' {
				plain = false
				break
			}
		}
	}
	if plain {
		if name == "" {
			return `""`
		}
		return name
	}
	if len(name) > maxDisplay {
		return strconv.Quote(name[:maxDisplay]) + "..."
	}
	return strconv.Quote(name)
}
