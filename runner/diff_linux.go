package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// Change is one entry of `strata diff`, as docker's: Kind "A" (added), "C" (changed) or "D"
// (deleted), and the path in the container.
type Change struct {
	Kind string
	Path string
}

// hiddenMountpoints are files and directories the init creates in the writable layer as
// mount points when the image lacks them: docker makes its in an init layer below the
// container's, so its diff never shows them, nor the directory that holds them.
var hiddenMountpoints = map[string]bool{
	"/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true,
	"/proc": true, "/sys": true, "/dev": true,
}

// diffListed, when not nil, is called once Diff has listed directory rel of the writable
// layer (tests).
var diffListed func(rel string)

// Diff lists what container c changed in its filesystem, from its writable layer as docker
// diff does (moby's overlay changes): a whiteout is a deletion (an opaque directory too, its
// new entries then added), an entry the image's layers have is a change, any other an
// addition, and each directory holding a change is a change itself. The walk never follows a
// symlink, in the writable layer or in the image's. A container without a writable layer
// (--read-only, or the vfs storage driver's copy) has nothing to list that docker would.
func Diff(c *Container) ([]Change, error) {
	var lowers []string
	var upper string
	for _, m := range c.Config.Spec.Root {
		if m.Type == "overlay" {
			lowers, upper, _ = m.OverlayDirs()
		}
	}
	if upper == "" {
		if len(c.Config.Spec.Root) > 0 && c.Config.Spec.Root[0].Type == "bind" {
			return nil, fmt.Errorf("container %s: diff is not supported on the vfs storage driver", shortID(c.ID))
		}
		return nil, nil
	}
	if !inDir(upper, c.Dir) {
		return nil, fmt.Errorf("container %s: its writable layer %s is not in the container's dir", shortID(c.ID), upper)
	}
	// The lowers tell a change from an addition: a host dir edited in would be read.
	if err := checkLowers(c); err != nil {
		return nil, err
	}
	// The walk follows no symlink, the root's either: one in upper's place (a hand edit) listed
	// no change at all.
	if fi, err := os.Lstat(upper); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("container %s: its writable layer: %s is a %s, not a directory", shortID(c.ID), upper, fileKind(fi.Mode()))
	}
	type entry struct {
		Change
		keep bool // a change of its own; a directory without one is listed only above one
		dir  bool
	}
	var entries []entry
	userXattr := c.OverlayUserXattr()
	layers := &layerLookup{layers: lowers, realDir: map[string]bool{}}
	top, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if gone := c.StillThere(); err != nil && gone != nil {
		return nil, gone
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: listing its changes: %w", shortID(c.ID), &fs.PathError{Op: "open", Path: upper, Err: err})
	}
	defer unix.Close(top)
	// The walk goes by descriptors, each entry opened by name in its parent's without
	// following a symlink, and described by what was opened: a running container that swaps
	// a directory for a symlink to a host path ("/") between a listing and the next step led a
	// walk by path names through it, and diff listed the host's files as the container's.
	var walk func(dfd int, rel string, depth int) error
	var diffEntry func(dfd int, base, rel string, depth int) error
	walk = func(dfd int, rel string, depth int) error {
		if depth > maxDiffDepth {
			return fmt.Errorf("/%s: directories nested more than %d deep", rel, maxDiffDepth)
		}
		names, err := readDirNames(dfd)
		if err != nil {
			return fmt.Errorf("reading /%s: %w", rel, err)
		}
		if diffListed != nil {
			diffListed(rel)
		}
		slices.Sort(names)
		for _, n := range names {
			r := n
			if rel != "" {
				r = rel + "/" + n
			}
			if err := diffEntry(dfd, n, r, depth); err != nil {
				return err
			}
		}
		return nil
	}
	diffEntry = func(dfd int, base, rel string, depth int) error {
		fd, err := unix.Openat(dfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			return nil // removed by the running container meanwhile
		}
		if err != nil {
			return fmt.Errorf("reading /%s: %w", rel, err)
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		name := "/" + rel
		isDir := err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
		sub := -1
		if isDir {
			// The directory opened, never a name that may lead elsewhere by now.
			sub, err = unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		}
		unix.Close(fd) // one descriptor a level
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if sub >= 0 {
			defer unix.Close(sub)
		}
		if isInitMountpoint(name, &st, sub) {
			return nil
		}
		e := entry{Change: Change{Path: name}, dir: isDir}
		lower, inLower := layers.stat(rel)
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0:
			e.Kind, e.keep = "D", true // a whiteout
		case e.dir && fdOpaque(sub, userXattr):
			e.Kind, e.keep = "D", true
		case !inLower:
			e.Kind, e.keep = "A", true
		default:
			e.Kind = "C"
			// A directory copied up only to hold a change has the image's mode, owner and
			// times (overlayfs keeps them): it is listed only above that change. One whose
			// mtime moved had an entry made or removed in it (mkdir and rmdir, a touch) and
			// is a change, as in docker's diff; but /etc, where the init may have made the
			// mount points of hostname, hosts and resolv.conf, which docker makes in an
			// init layer below the container's.
			e.keep = !e.dir || lower.Mode != st.Mode || lower.Uid != st.Uid || lower.Gid != st.Gid ||
				name != "/etc" && !sameMtime(lower.Mtim, st.Mtim)
		}
		entries = append(entries, e)
		if isDir {
			return walk(sub, rel, depth+1)
		}
		return nil
	}
	err = walk(top, "", 0)
	if gone := c.StillThere(); gone != nil {
		// Removed while it was read (rm -f): the walk, which takes an entry gone meanwhile
		// for one the container removed, listed what the removal had left.
		return nil, gone
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: listing its changes: %w", shortID(c.ID), err)
	}
	// Every directory above a listed entry is listed as changed.
	kept := map[string]bool{}
	for _, e := range entries {
		if e.keep {
			for dir := path.Dir(e.Path); dir != "/"; dir = path.Dir(dir) {
				kept[dir] = true
			}
		}
	}
	var out []Change
	for _, e := range entries {
		if e.keep || e.dir && kept[e.Path] {
			out = append(out, e.Change)
		}
	}
	return out, nil
}

// layerLookup finds paths in the image's layers, top first, never through a symlink: a path
// whose parents are not all real directories in a layer is not there. Which directories are
// real is remembered, so a walk of many files asks each directory once per layer.
type layerLookup struct {
	layers  []string
	realDir map[string]bool // a layer's dir, joined: a real directory, all its parents too
}

func (l *layerLookup) stat(rel string) (unix.Stat_t, bool) {
	var st unix.Stat_t
	for _, layer := range l.layers {
		if l.isRealDir(layer, filepath.Dir(rel)) && unix.Lstat(filepath.Join(layer, rel), &st) == nil {
			return st, true
		}
	}
	return st, false
}

// isRealDir reports whether dir (relative, "." for the layer itself) is a directory in layer
// with no symlink on the way.
func (l *layerLookup) isRealDir(layer, dir string) bool {
	if dir == "." || dir == "/" || dir == "" {
		return true
	}
	p := filepath.Join(layer, dir)
	if ok, seen := l.realDir[p]; seen {
		return ok
	}
	var st unix.Stat_t
	ok := l.isRealDir(layer, filepath.Dir(dir)) && unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
	l.realDir[p] = ok
	return ok
}

// maxDiffDepth bounds how deep Diff descends: each level holds a descriptor open, and no
// path deeper fits in PATH_MAX anyway (layers' maxTreeDepth, which commit keeps).
const maxDiffDepth = 2048

// readDirNames lists the directory fd (opened for reading) without moving its offset.
func readDirNames(fd int) ([]string, error) {
	dup, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), ".")
	defer f.Close()
	return f.Readdirnames(-1)
}

// isInitMountpoint is IsInitMountpoint on the entry Diff opened: dir, when it is a
// directory, its descriptor.
func isInitMountpoint(name string, st *unix.Stat_t, dir int) bool {
	if !hiddenMountpoints[name] {
		return false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		names, err := readDirNames(dir)
		return err == nil && len(names) == 0
	case unix.S_IFREG:
		return st.Size == 0
	}
	return false
}

// fdOpaque reports whether overlayfs marked the upper directory fd opaque: the container
// removed the image's directory and made a new one there. Only the namespace the overlay
// uses is read: the container can set user.overlay.opaque on a root overlay's dir itself.
func fdOpaque(fd int, userXattr bool) bool {
	attr := "trusted.overlay.opaque"
	if userXattr {
		attr = "user.overlay.opaque"
	}
	buf := make([]byte, 4)
	n, err := unix.Fgetxattr(fd, attr, buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// isEmptyDir reports whether p is a directory without entries, never through a symlink.
func isEmptyDir(p string) bool {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}

// sameMtime compares two modification times as docker's diff does (sameFsTime): to the
// second when either lacks nanoseconds (a layer unpacked from a tar without them).
func sameMtime(a, b unix.Timespec) bool {
	if a.Nsec == 0 || b.Nsec == 0 {
		return a.Sec == b.Sec
	}
	return a == b
}
