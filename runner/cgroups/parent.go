package cgroups

import (
	"fmt"
	"path"
	"strings"
)

// maxParent bounds a --cgroup-parent, in bytes (PATH_MAX).
const maxParent = 4096

// ValidateCgroupParent checks a --cgroup-parent as docker's cgroupfs driver reads it: a path
// of cgroups, relative (placed under strata's own parent, as docker places it under its
// daemon's) or absolute (from the root of each cgroup tree). It must name no ".." (no way out
// of the tree, nor up from strata's parent), and not be the root itself.
func ValidateCgroupParent(p string) error {
	bad := func(reason string) error { return &ValueError{What: "cgroup-parent", Value: p, Reason: reason} }
	switch {
	case p == "":
		return nil
	case len(p) > maxParent:
		return bad("too long")
	case strings.ContainsAny(p, "\x00\n"):
		return bad("")
	}
	rel := strings.Trim(p, "/")
	// "." names the directory it is in: "/." and "/./." are the root too, "." strata's
	// own parent, as no --cgroup-parent at all.
	if onlyDots(rel) {
		if !strings.HasPrefix(p, "/") {
			return bad(`"." names no cgroup`)
		}
		return bad("the root of the cgroup tree is no parent")
	}
	for _, part := range strings.Split(rel, "/") {
		switch {
		case part == "..":
			return bad(`".." would leave the cgroup tree`)
		case len(part) > 255:
			return bad("a name longer than 255 bytes")
		}
	}
	// A relative parent named like a container ID would sit where strata's sweep looks for
	// the cgroups of containers (see Sweep).
	// An absolute one through strata's parent ("/strata/ID") is the same place: the other
	// container's cgroup, which its stop and rm kill and remove with this one inside.
	under := path.Clean(rel)
	if strings.HasPrefix(p, "/") {
		var ok bool
		if under, ok = strings.CutPrefix(under, parentName+"/"); !ok {
			under = ""
		}
	}
	if first, _, _ := strings.Cut(under, "/"); isContainerID(first) {
		return bad("a container ID cannot name a parent under strata's own")
	}
	return nil
}

// parentOf is the directory, relative to each tree's root, of the cgroups made with
// --cgroup-parent p (validated): strata's own parent for none.
func (h *hierarchy) parentOf(p string) (string, error) {
	if err := ValidateCgroupParent(p); err != nil {
		return "", err
	}
	switch {
	case p == "":
		return h.parent, nil
	case strings.HasPrefix(p, "/"):
		return path.Clean(strings.TrimLeft(p, "/")), nil
	}
	return path.Join(h.parent, path.Clean(p)), nil
}

// Key is how Load, Held, InUse and IsFrozen name the cgroup of container name made with
// --cgroup-parent parent: the name alone for strata's own parent, else the parent, a "/" and
// the name. New takes the parent from its Resources.
func Key(parent, name string) string {
	if parent == "" {
		return name
	}
	return strings.TrimRight(parent, "/") + "/" + name
}

// Key is Key(r.CgroupParent, name).
func (r Resources) Key(name string) string { return Key(r.CgroupParent, name) }

// splitKey parses a Key into the cgroup's directory relative to each tree's root and its
// name, both checked.
func (h *hierarchy) splitKey(key string) (parent, name string, err error) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return h.parent, key, validName(key)
	}
	name = key[i+1:]
	if err := validName(name); err != nil {
		return "", "", err
	}
	p := key[:i]
	if p == "" {
		p = "/" // "/name": --cgroup-parent "/", which ValidateCgroupParent refuses
	}
	parent, err = h.parentOf(p)
	if err != nil {
		// No cgroup is made under such a parent (New refuses it): a hostile config.json's
		// container has none, and stop or rm goes on without one.
		return "", "", fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return parent, name, nil
}

// onlyDots says whether every component of p is "" or ".": p names the directory it starts in.
func onlyDots(p string) bool {
	for part := range strings.SplitSeq(p, "/") {
		if part != "" && part != "." {
			return false
		}
	}
	return true
}
