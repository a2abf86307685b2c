package snapshotter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// ErrVolumeOverFile: an image VOLUME names a path that the image holds as a file, where no
// directory can be mounted (docker: "cannot mount volume over existing file").
var ErrVolumeOverFile = errors.New("cannot mount volume over existing file")

// PopulateVolume makes dst, a directory that must not exist yet, a copy of what the image
// holds at target (a container path), as docker fills an anonymous volume when it creates the
// container: the directory and everything under it, with owners, modes (setuid bits too),
// times, xattrs, symlinks as symlinks, hard links as hard links, device nodes and fifos. A
// target the image lacks gives an empty directory, owned by root, mode 0755. Call it after
// Prepare (and AddMountpoints) with the same diffIDs.
//
// The image is read in the merged view the container will see, without mounting it: the
// layer dirs with overlay's rules (the vfs rootfs copy for vfs). target is resolved there
// through the image's symlinks but never out of the image (securejoin's rules), so a VOLUME
// whose path leads to a host directory copies the image's directory of that name, or
// nothing; no symlink of the copied tree is followed. A target that resolves to the image's root is an
// error, as is one the image holds as a file (ErrVolumeOverFile).
//
// dst is built beside itself and renamed in when complete, so a dst that exists is whole.
// The copy keeps holes, stops when ctx is done, and fails with layers.ErrLowDiskSpace rather
// than take the free space of dst's filesystem below Options.Layer.MinFreeBytes, as Unpack;
// it leaves nothing then. PopulateVolume never mounts. A container with several volumes
// fills them with PopulateVolumes.
func (s *Snapshotter) PopulateVolume(ctx context.Context, containerDir string, diffIDs []v1.Hash, target, dst string) error {
	return s.PopulateVolumes(ctx, containerDir, diffIDs, []Volume{{Target: target, Dir: dst}})
}

// Volume is one anonymous volume of a container for PopulateVolumes: what the image holds at
// Target, a container path, is copied into Dir.
type Volume struct {
	Target string
	Dir    string
}

// PopulateVolumes fills each of volumes as PopulateVolume does, in one view of the image,
// but for one thing: a volume's copy stops at the mount point of a volume nested in it that
// the init mounts after it, a Target of more components (the init mounts the shallower
// first, as docker does). There the copy makes the directory, with its owner, mode, xattrs and
// times, and not what the image holds below it: the nested volume holds that in its own copy,
// and its mount hides that part of the outer volume in the container. Each volume copied all
// of its nested ones: under --read-only, where the mount points of 1000 nested VOLUMEs (/a,
// /a/a, …) are in the view, that made half a million directories, each a path walk as deep.
// A nested volume mounted first (a shorter Target leading into the outer one through a
// symlink) is hidden by the outer one's mount, so the outer copy keeps what lies there.
func (s *Snapshotter) PopulateVolumes(ctx context.Context, containerDir string, diffIDs []v1.Hash, volumes []Volume) error {
	if len(volumes) == 0 {
		return nil
	}
	var u *unionFS
	err := errors.New("container dir and volume dir must be absolute paths")
	if filepath.IsAbs(containerDir) {
		u, err = s.imageView(ctx, containerDir, diffIDs)
	}
	if err != nil {
		what := "volume " + volumes[0].Target
		if len(volumes) > 1 {
			what = "volumes"
		}
		return fmt.Errorf("populating %s: %w", what, err)
	}
	// Where each volume lands in the view, and for each place the most components of a
	// Target landing there: the latest volume the init mounts there.
	rels := make([]string, len(volumes))
	nodes := make([]*unionNode, len(volumes))
	deepest := make(map[string]int, len(volumes))
	for i, v := range volumes {
		if rels[i], nodes[i], err = u.resolve(v.Target); err != nil {
			return fmt.Errorf("populating volume %s: %w", v.Target, err)
		}
		deepest[rels[i]] = max(deepest[rels[i]], components(v.Target))
	}
	for i, v := range volumes {
		depth := components(v.Target)
		mountedOver := func(rel string) bool { return deepest[rel] > depth }
		if err := s.populateVolume(ctx, rels[i], nodes[i], v.Dir, mountedOver); err != nil {
			return fmt.Errorf("populating volume %s: %w", v.Target, err)
		}
	}
	return nil
}

// components counts the names of a container path, as the init's plan orders its mounts:
// "/" has none, "/a/b" two.
func components(p string) int {
	p = path.Clean("/" + p)
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// populateVolume copies rel, a resolved path of the view whose node is n (nil: the view
// lacks it), into dst; a directory below rel for which mountedOver is true is copied without
// its contents.
func (s *Snapshotter) populateVolume(ctx context.Context, rel string, n *unionNode, dst string, mountedOver func(rel string) bool) (err error) {
	if !filepath.IsAbs(dst) {
		return errors.New("container dir and volume dir must be absolute paths")
	}
	if rel == "/" {
		return errors.New("the path leads to the image's root")
	}
	var lowers []string
	if n != nil {
		lowers = n.layers
	}
	var top unix.Stat_t
	if len(lowers) > 0 {
		if err := unix.Lstat(filepath.Join(lowers[0], rel), &top); err != nil {
			return err
		}
		if top.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("%w: %s is not a directory in the image", ErrVolumeOverFile, rel)
		}
	}

	// 0700: a volume holds the image's setuid files and device nodes as they are, like an
	// upper dir (the container dir is 0710 already).
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(dst)+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, removeAll(tmp))
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if len(lowers) > 0 {
		c := &volumeCopier{copier: newCopier(ctx, tmp, s.layer.MinFreeBytes), mountedOver: mountedOver}
		if err := c.check(); err != nil {
			return err
		}
		if err := c.dir(lowers, rel, tmp); err != nil {
			return err
		}
		if err := c.meta(filepath.Join(lowers[0], rel), tmp, &top); err != nil {
			return err
		}
	}
	return os.Rename(tmp, dst)
}

// imageView is the merged view of the container's image as Prepare laid it out: the vfs
// rootfs copy, or the overlay lowers top first (the mountpoints layer of a read-only
// container on top).
func (s *Snapshotter) imageView(ctx context.Context, containerDir string, diffIDs []v1.Hash) (*unionFS, error) {
	if s.driver == VFS {
		return newUnionFS(ctx, []string{filepath.Join(containerDir, rootfsDir)}), nil
	}
	var layers []string
	top := filepath.Join(containerDir, mountpointsDir)
	if _, err := os.Lstat(top); err == nil {
		layers = append(layers, top)
	}
	lowers, err := s.lowerDirs(containerDir, diffIDs)
	if err != nil {
		return nil, err
	}
	for i := len(lowers) - 1; i >= 0; i-- {
		layers = append(layers, lowers[i])
	}
	return newUnionFS(ctx, layers), nil
}

// volumeCopier copies a directory of a merged view into a new tree. Every destination path
// is joined below a directory it made itself, and every source entry is read with lstat and
// O_NOFOLLOW: nothing in the image can lead it elsewhere on the host.
//
// Each VOLUME (or symlink to one path) copies its tree again: the checks of ctx and free
// space and the sparse copy are copier's, shared with the vfs rootfs's copy.
type volumeCopier struct {
	copier
	// mountedOver says whether another volume is mounted over the directory rel after this
	// one: it is copied without its contents (see PopulateVolumes).
	mountedOver func(rel string) bool
}

// dir copies the merged children of rel, a directory held by layers (top first, down to the
// first opaque one), into dst, an empty directory.
func (c *volumeCopier) dir(layers []string, rel, dst string) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, l := range layers {
		names, err := readDirNames(filepath.Join(l, rel))
		if err != nil {
			return err
		}
		for _, name := range names {
			if seen[name] {
				continue
			}
			seen[name] = true
			// No layer above l has name: its merged entry starts in l.
			if err := c.entry(layers[i:], path.Join(rel, name), filepath.Join(dst, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry copies the merged entry rel, looked up in layers (top first), to d.
func (c *volumeCopier) entry(layers []string, rel, d string) error {
	// Every entry: a directory of millions of names must not hold off a Ctrl-C.
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if err := c.count(copyInodeCost); err != nil {
		return err
	}
	var found []string
	var st unix.Stat_t
	for _, l := range layers {
		var cur unix.Stat_t
		err := unix.Lstat(filepath.Join(l, rel), &cur)
		switch {
		case errors.Is(err, unix.ENOENT):
			continue
		case err != nil:
			return &os.PathError{Op: "lstat", Path: filepath.Join(l, rel), Err: err}
		}
		mode := cur.Mode & unix.S_IFMT
		if mode == unix.S_IFCHR && cur.Rdev == 0 {
			break // a whiteout hides the name here and below
		}
		if len(found) == 0 {
			st = cur
		}
		if mode != unix.S_IFDIR {
			if len(found) == 0 {
				found = []string{l}
			}
			break // below a directory, a non-directory is hidden by it
		}
		found = append(found, l)
		if isOpaque(filepath.Join(l, rel)) {
			break
		}
	}
	if len(found) == 0 {
		return nil // whited out
	}
	src := filepath.Join(found[0], rel)
	mode := st.Mode & unix.S_IFMT
	if mode == unix.S_IFDIR {
		if err := unix.Mkdir(d, 0o700); err != nil {
			return &os.PathError{Op: "mkdir", Path: d, Err: err}
		}
		if c.mountedOver == nil || !c.mountedOver(rel) {
			if err := c.dir(found, rel, d); err != nil {
				return err
			}
		}
		// After the children, so their creation does not bump the dir's mtime again.
		return c.meta(src, d, &st)
	}
	return c.leaf(src, d, &st)
}

// readDirNames lists a directory without following a symlink in its place.
func readDirNames(dir string) ([]string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	return f.Readdirnames(-1)
}
