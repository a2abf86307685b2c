package snapshotter

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

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
// prepared writable needs none: its init makes them in the upper. It stops when ctx is done,
// leaving the points made so far (the caller removes the container dir). AddMountpoints
// never mounts.
func (s *Snapshotter) AddMountpoints(ctx context.Context, containerDir string, diffIDs []v1.Hash, mounts []mount.Mount) error {
	if err := s.addMountpoints(ctx, containerDir, diffIDs, mounts); err != nil {
		// The container dir is strata's business: the error names the target.
		return fmt.Errorf("making mount points: %w", err)
	}
	return nil
}

func (s *Snapshotter) addMountpoints(ctx context.Context, containerDir string, diffIDs []v1.Hash, mounts []mount.Mount) error {
	if !filepath.IsAbs(containerDir) {
		return errors.New("container dir must be an absolute path")
	}
	var layers []string
	if s.driver == VFS {
		// The rootfs copy is the whole view and takes the points itself.
		layers = []string{filepath.Join(containerDir, rootfsDir)}
	} else {
		top := filepath.Join(containerDir, mountpointsDir)
		if _, err := os.Lstat(top); errors.Is(err, fs.ErrNotExist) {
			return nil // prepared writable
		}
		lowers, err := s.lowerDirs(containerDir, diffIDs)
		if err != nil {
			return err
		}
		layers = []string{top}
		for i := len(lowers) - 1; i >= 0; i-- {
			layers = append(layers, lowers[i])
		}
	}
	// One view for every mount: what one made, the next finds there.
	u := newUnionFS(ctx, layers)
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

// unionFS answers lookups in the merged view of an overlay's lower layers (top first) without
// mounting it, with overlayfs's rules: the topmost entry of a name wins; directories merge
// down to the first opaque one; a whiteout (a 0/0 character device) hides the name below.
// It resolves a target's symlinks as the container will, with securejoin's rules: inside
// the view, ".." stopping at its root, at most maxSymlinks links.
//
// Resolving every prefix of a path from the root, as a securejoin VFS is asked to, made a
// path of n components cost n² lstats of paths up to n long, and an image's WORKDIR or
// VOLUMEs of a thousand components held strata for minutes. So a unionFS keeps what it
// found of each name (a tree of unionNodes) and walks a path component by component down
// that tree: a name costs one lstat per layer the first time, a map lookup after, and a
// path steps in proportion to its components.
type unionFS struct {
	// ctx is checked at every step. It is a field, against our habit, because it bounds
	// every method of a value that lives for one AddMountpoints or PopulateVolume call.
	ctx    context.Context
	layers []string
	root   *unionNode

	lstats int // layer entries lstat'ed: the work tests count
}

// unionNode is a name present in the merged view.
type unionNode struct {
	parent *unionNode
	// layers holds the name, top first: one for a file or symlink, every layer down to the
	// first opaque one for a directory.
	layers []string
	mode   uint32 // the topmost entry's type (unix.S_IFMT bits)
	// children are the names looked up so far: nil for one the view lacks.
	children map[string]*unionNode
	// made: a directory makePath made, empty but for the children it made since.
	made bool
}

func (n *unionNode) isDir() bool { return n.mode == unix.S_IFDIR }

// maxSymlinks is how many symlinks a resolution follows before it fails with ELOOP, as
// many as securejoin follows (its consts.MaxSymlinkLimit).
const maxSymlinks = 255

// newUnionFS returns the merged view of layers (top first).
func newUnionFS(ctx context.Context, layers []string) *unionFS {
	return &unionFS{ctx: ctx, layers: layers, root: &unionNode{layers: layers, mode: unix.S_IFDIR}}
}

// child returns the node of name under n, or nil when the view lacks it. rel is name's
// path in the view ("/a/b"), built by the caller only when n has not looked name up yet.
func (u *unionFS) child(n *unionNode, name string, rel func() string) (*unionNode, error) {
	if c, ok := n.children[name]; ok {
		return c, nil
	}
	if !n.isDir() || n.made {
		return nil, nil // a file, or a new directory: no other children
	}
	r := rel()
	c := &unionNode{parent: n}
layers:
	for _, l := range n.layers {
		p := l + r
		u.lstats++
		var st unix.Stat_t
		err := unix.Lstat(p, &st)
		switch {
		case errors.Is(err, unix.ENOENT):
			continue
		case err != nil:
			return nil, &os.PathError{Op: "lstat", Path: r, Err: err}
		}
		mode := st.Mode & unix.S_IFMT
		switch {
		case mode == unix.S_IFCHR && st.Rdev == 0:
			break layers // a whiteout hides this name in the layers below
		case mode != unix.S_IFDIR:
			if len(c.layers) == 0 {
				c.layers, c.mode = []string{l}, mode
			}
			break layers // a non-directory under a directory is hidden by it
		}
		if len(c.layers) == 0 {
			c.mode = mode
		}
		c.layers = append(c.layers, l)
		if isOpaque(p) {
			break layers
		}
	}
	if len(c.layers) == 0 {
		c = nil
	}
	u.setChild(n, name, c)
	return c, nil
}

func (u *unionFS) setChild(n *unionNode, name string, c *unionNode) {
	if n.children == nil {
		n.children = map[string]*unionNode{}
	}
	n.children[name] = c
}

// resolve returns target, a container path, resolved in the view as the container will see
// it: through the image's symlinks (the last component's too), ".." stopping at the root, a
// missing name taken as a directory, as securejoin.SecureJoin does. It returns the path,
// "/"-rooted and clean, and its node, nil when the view lacks it.
func (u *unionFS) resolve(target string) (string, *unionNode, error) {
	var (
		names     []string // the path so far
		n         = u.root // its node, or the last present one when missing > 0
		missing   int      // the path's last names the view lacks
		links     int
		remaining = target
	)
	relOf := func(extra string) func() string {
		return func() string { return "/" + path.Join(path.Join(names...), extra) }
	}
	for remaining != "" {
		if err := u.ctx.Err(); err != nil {
			return "", nil, err
		}
		var name string
		name, remaining, _ = strings.Cut(remaining, "/")
		switch name {
		case "", ".":
			continue
		case "..":
			if len(names) == 0 {
				continue // the root's parent is the root
			}
			names = names[:len(names)-1]
			if missing > 0 {
				missing--
			} else {
				n = n.parent
			}
			continue
		}
		if missing > 0 {
			names = append(names, name)
			missing++
			continue
		}
		c, err := u.child(n, name, relOf(name))
		if err != nil {
			return "", nil, err
		}
		if c == nil {
			names = append(names, name)
			missing = 1
			continue
		}
		if c.mode != unix.S_IFLNK {
			names = append(names, name)
			n = c
			continue
		}
		links++
		if links > maxSymlinks {
			return "", nil, unix.ELOOP
		}
		r := relOf(name)()
		dest, err := os.Readlink(c.layers[0] + r)
		if err != nil {
			return "", nil, imagePathError("readlink", r, err)
		}
		remaining = dest + "/" + remaining
		if strings.HasPrefix(dest, "/") {
			names, n, missing = names[:0], u.root, 0
		}
	}
	if missing > 0 {
		n = nil
	}
	return "/" + strings.Join(names, "/"), n, nil
}

// imagePathError is err from op on a layer's copy of rel, naming rel, the image's path,
// rather than the layer dir on the host.
func imagePathError(op, rel string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &os.PathError{Op: op, Path: rel, Err: err}
}

// addMountpoint makes m's target, resolved in the merged view, in the top layer
// (u.layers[0]): each missing directory on the way, and the target itself.
func (u *unionFS) addMountpoint(m mount.Mount) error {
	rel, _, err := u.resolve(m.Target)
	if err != nil {
		return fmt.Errorf("%s: %w", m.Target, err)
	}
	if err := u.makePath(rel, mountsFile(m)); err != nil {
		return fmt.Errorf("%s: %w", m.Target, err)
	}
	return nil
}

// makePath makes rel, a resolved path, in the top layer unless the view has it: a file when
// file is set, else a directory, and each directory on the way the top layer lacks. It goes
// down the tree resolve cached, and down the top layer by descriptor (mkdirat, openat): a
// deep path costs one step a component, and no host path past PATH_MAX.
func (u *unionFS) makePath(rel string, file bool) error {
	top := u.layers[0]
	fd, err := unix.Open(top, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: top, Err: err}
	}
	defer func() { unix.Close(fd) }()
	n := u.root
	// Each prefix cur of rel in turn, "/a", "/a/b", …: slices of rel, never built again.
	for i := 1; i < len(rel); {
		if err := u.ctx.Err(); err != nil {
			return err
		}
		end := len(rel)
		if j := strings.IndexByte(rel[i:], '/'); j >= 0 {
			end = i + j
		}
		cur, name, last := rel[:end], rel[i:end], end == len(rel)
		i = end + 1
		c, err := u.child(n, name, func() string { return cur })
		if err != nil {
			return err
		}
		switch {
		case c != nil && last:
			return nil // the image has it: the mount goes there, or fails there as in docker
		case c != nil && !c.isDir():
			return fmt.Errorf("%s is not a directory in the image: %w", cur, unix.ENOTDIR)
		case c != nil && c.layers[0] != top:
			// Repeat the image's directory in the top layer, with its attributes: the
			// topmost copy decides what the container sees. It is no opaque dir: the
			// image's entries below still show.
			if err := unix.Mkdirat(fd, name, 0o755); err != nil {
				return &os.PathError{Op: "mkdir", Path: cur, Err: err}
			}
			if err := copyAttrsAt(filepath.Join(c.layers[0], cur), fd, name, cur); err != nil {
				return err
			}
			c.layers = append([]string{top}, c.layers...)
		case c == nil && last && file:
			f, err := unix.Openat(fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
			if err != nil {
				return &os.PathError{Op: "create", Path: cur, Err: err}
			}
			err = unix.Fchmod(f, 0o644) // whatever the umask of whoever runs strata
			unix.Close(f)
			if err != nil {
				return &os.PathError{Op: "chmod", Path: cur, Err: err}
			}
			u.setChild(n, name, &unionNode{parent: n, layers: []string{top}, mode: unix.S_IFREG})
			return nil
		case c == nil:
			if err := unix.Mkdirat(fd, name, 0o755); err != nil {
				return &os.PathError{Op: "mkdir", Path: cur, Err: err}
			}
			// Not mkdirat's mode alone, which the user's umask cuts: under 077 the
			// container's non-root users found the mount point's parents closed to them.
			if err := unix.Fchmodat(fd, name, 0o755, 0); err != nil {
				return &os.PathError{Op: "chmod", Path: cur, Err: err}
			}
			c = &unionNode{parent: n, layers: []string{top}, mode: unix.S_IFDIR, made: true}
			u.setChild(n, name, c)
		}
		if last {
			return nil
		}
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: cur, Err: err}
		}
		unix.Close(fd)
		fd, n = next, c
	}
	return nil
}

// copyAttrsAt gives name in dirfd the owner, mode, xattrs and times of src; rel names them
// both in errors. The xattrs matter as much as the mode: overlayfs shows a directory's
// topmost copy's, and a copy without them would drop the image's ACLs and user.* xattrs
// there (a copy-up keeps them, as the vfs rootfs copy does). Overlay's own are left out.
func copyAttrsAt(src string, dirfd int, name, rel string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: rel, Err: err}
	}
	if err := unix.Fchownat(dirfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil && (os.Geteuid() == 0 || !errors.Is(err, unix.EPERM)) {
		return &os.PathError{Op: "chown", Path: rel, Err: err}
	}
	if err := unix.Fchmodat(dirfd, name, st.Mode&0o7777, 0); err != nil {
		return &os.PathError{Op: "chmod", Path: rel, Err: err}
	}
	// After the chmod, which would rewrite an access ACL's mask. /proc/self/fd/N is
	// followed to the directory, name is not (lsetxattr).
	if err := copyXattrs(src, "/proc/self/fd/"+strconv.Itoa(dirfd)+"/"+name); err != nil {
		return &os.PathError{Op: "copying xattrs to", Path: rel, Err: errors.Unwrap(err)}
	}
	if err := unix.UtimesNanoAt(dirfd, name, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "setting times on", Path: rel, Err: err}
	}
	return nil
}
