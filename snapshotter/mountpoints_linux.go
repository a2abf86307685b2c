package snapshotter

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/mount"
)

// AddMountpoints makes the mount points of a read-only container's user mounts (-v, --mount,
// --tmpfs targets) that its image lacks, as docker does: a root mounted read-only cannot take
// a new directory once the container starts. Call it after Prepare(..., readOnly=true) with
// the same diffIDs. Targets are container paths resolved as the container will see them:
// through the image's symlinks, never out of the root. A bind of a file gets an empty file,
// anything else a directory (mode 0755, owned by root).
//
// With overlay the points go into the container's mountpoints/ layer, the top lower; a
// directory the image has is repeated there with the image's owner, mode and times, since an
// overlay shows the topmost copy's. With vfs they go into the rootfs copy itself. A container
// prepared writable needs none: its init makes them in the upper. AddMountpoints never mounts.
func (s *Snapshotter) AddMountpoints(containerDir string, diffIDs []v1.Hash, mounts []mount.Mount) error {
	if err := s.addMountpoints(containerDir, diffIDs, mounts); err != nil {
		return fmt.Errorf("making mount points in %s: %w", containerDir, err)
	}
	return nil
}

func (s *Snapshotter) addMountpoints(containerDir string, diffIDs []v1.Hash, mounts []mount.Mount) error {
	if !filepath.IsAbs(containerDir) {
		return errors.New("container dir must be an absolute path")
	}
	if s.driver == VFS {
		rootfs := filepath.Join(containerDir, rootfsDir)
		for _, m := range mounts {
			if err := addVFSMountpoint(rootfs, m); err != nil {
				return err
			}
		}
		return nil
	}
	top := filepath.Join(containerDir, mountpointsDir)
	if _, err := os.Lstat(top); errors.Is(err, fs.ErrNotExist) {
		return nil // prepared writable
	}
	lowers, err := s.lowerDirs(containerDir, diffIDs)
	if err != nil {
		return err
	}
	u := unionFS{layers: []string{top}}
	for i := len(lowers) - 1; i >= 0; i-- {
		u.layers = append(u.layers, lowers[i])
	}
	for _, m := range mounts {
		if err := u.addMountpoint(m); err != nil {
			return err
		}
	}
	return nil
}

// mountsFile reports whether m mounts a file (a bind of an existing non-directory) rather
// than a directory. A bind source that does not exist yet is a directory: -v makes it one.
func mountsFile(m mount.Mount) bool {
	if m.Type != "bind" {
		return false
	}
	st, err := os.Stat(m.Source)
	return err == nil && !st.IsDir()
}

// addVFSMountpoint makes m's target in a vfs rootfs, the container's own copy.
func addVFSMountpoint(rootfs string, m mount.Mount) error {
	p, err := securejoin.SecureJoin(rootfs, m.Target)
	if err != nil {
		return fmt.Errorf("%s: %w", m.Target, err)
	}
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	// SecureJoin resolved every component that exists to a real directory inside rootfs;
	// what MkdirAll adds after them is new.
	dir := p
	if mountsFile(m) {
		dir = filepath.Dir(p)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", m.Target, err)
	}
	if dir != p {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			return fmt.Errorf("%s: %w", m.Target, err)
		}
	}
	return nil
}

// unionFS answers lookups in the merged view of an overlay's lower layers (top first) without
// mounting it, with overlayfs's rules: the topmost entry of a name wins; directories merge
// down to the first opaque one; a whiteout (a 0/0 character device) hides the name below.
// It is the VFS through which securejoin resolves a target's symlinks as the container will.
type unionFS struct {
	layers []string
}

// unionRoot is the root the union's paths are joined under for securejoin; it names no real
// directory, every lookup maps it to the layers.
const unionRoot = "/union"

// lookup returns the layers that hold rel in the merged view, top first: one for a file or
// symlink, every layer down to the first opaque one for a directory, none when rel is absent.
func (u unionFS) lookup(rel string) ([]string, error) {
	rel = path.Clean("/" + rel)
	if rel == "/" {
		return u.layers, nil
	}
	parents, err := u.lookup(path.Dir(rel))
	if err != nil || len(parents) == 0 {
		return nil, err
	}
	if st, err := os.Lstat(filepath.Join(parents[0], path.Dir(rel))); err != nil || !st.IsDir() {
		return nil, err // a file: no children
	}
	var found []string
	for _, l := range parents {
		p := filepath.Join(l, rel)
		var st unix.Stat_t
		err := unix.Lstat(p, &st)
		switch {
		case errors.Is(err, unix.ENOENT):
			continue
		case err != nil:
			return nil, &os.PathError{Op: "lstat", Path: p, Err: err}
		}
		mode := st.Mode & unix.S_IFMT
		switch {
		case mode == unix.S_IFCHR && st.Rdev == 0:
			return found, nil // a whiteout hides this name in the layers below
		case mode != unix.S_IFDIR:
			if len(found) == 0 {
				return []string{l}, nil
			}
			return found, nil // a non-directory under a directory is hidden by it
		}
		found = append(found, l)
		if isOpaque(p) {
			return found, nil
		}
	}
	return found, nil
}

// rel maps a path securejoin built under unionRoot to the union's own, "/"-rooted.
func (u unionFS) rel(name string) (string, error) {
	r, ok := strings.CutPrefix(filepath.Clean(name), unionRoot)
	if !ok || (r != "" && !strings.HasPrefix(r, "/")) {
		return "", &os.PathError{Op: "lookup", Path: name, Err: unix.EXDEV}
	}
	return path.Clean("/" + r), nil
}

// Lstat implements securejoin.VFS: the topmost entry of name.
func (u unionFS) Lstat(name string) (os.FileInfo, error) {
	rel, err := u.rel(name)
	if err != nil {
		return nil, err
	}
	layers, err := u.lookup(rel)
	if err != nil {
		return nil, err
	}
	if len(layers) == 0 {
		return nil, &os.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
	}
	return os.Lstat(filepath.Join(layers[0], rel))
}

// Readlink implements securejoin.VFS.
func (u unionFS) Readlink(name string) (string, error) {
	rel, err := u.rel(name)
	if err != nil {
		return "", err
	}
	layers, err := u.lookup(rel)
	if err != nil {
		return "", err
	}
	if len(layers) == 0 {
		return "", &os.PathError{Op: "readlink", Path: name, Err: fs.ErrNotExist}
	}
	return os.Readlink(filepath.Join(layers[0], rel))
}

var _ securejoin.VFS = unionFS{}

// addMountpoint makes m's target, resolved in the merged view, in the top layer
// (u.layers[0]): each missing directory on the way, and the target itself.
func (u unionFS) addMountpoint(m mount.Mount) error {
	joined, err := securejoin.SecureJoinVFS(unionRoot, m.Target, u)
	if err != nil {
		return fmt.Errorf("%s: %w", m.Target, err)
	}
	rel, err := u.rel(joined)
	if err != nil {
		return fmt.Errorf("%s: %w", m.Target, err)
	}
	if rel == "/" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(rel, "/"), "/")
	top := u.layers[0]
	for i := range parts {
		cur := "/" + strings.Join(parts[:i+1], "/")
		last := i == len(parts)-1
		layers, err := u.lookup(cur)
		if err != nil {
			return fmt.Errorf("%s: %w", m.Target, err)
		}
		dst := filepath.Join(top, cur)
		if len(layers) > 0 {
			st, err := os.Lstat(filepath.Join(layers[0], cur))
			if err != nil {
				return fmt.Errorf("%s: %w", m.Target, err)
			}
			if last {
				return nil // the image has it: the mount goes there, or fails there as in docker
			}
			if !st.IsDir() {
				return fmt.Errorf("%s: %s is not a directory in the image: %w", m.Target, cur, unix.ENOTDIR)
			}
			if layers[0] == top {
				continue
			}
			// Repeat the image's directory in the top layer, with its attributes: the
			// topmost copy decides what the container sees.
			if err := os.Mkdir(dst, 0o755); err != nil {
				return fmt.Errorf("%s: %w", m.Target, err)
			}
			if err := copyRootAttrs(filepath.Join(layers[0], cur), dst); err != nil {
				return fmt.Errorf("%s: %w", m.Target, err)
			}
			continue
		}
		if last && mountsFile(m) {
			if err := os.WriteFile(dst, nil, 0o644); err != nil {
				return fmt.Errorf("%s: %w", m.Target, err)
			}
			return nil
		}
		if err := os.Mkdir(dst, 0o755); err != nil {
			return fmt.Errorf("%s: %w", m.Target, err)
		}
	}
	return nil
}
