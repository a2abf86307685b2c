package snapshotter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/sys/mountinfo"
	"github.com/strata-run/strata/layers"
	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// Names inside a container dir.
const (
	upperDir  = "upper"
	workDir   = "work"
	rootfsDir = "rootfs"
	// emptyDir is the single lower of an image without layers: overlay needs one.
	emptyDir = "empty"
	// mountpointsDir is the top lower of a read-only container: it holds the mount points the
	// runner binds onto (/etc/hosts, /proc, …), which a root with no upper cannot create.
	mountpointsDir = "mountpoints"
	// rootfsTmpPrefix names a vfs rootfs being copied; it is renamed to rootfs when complete.
	rootfsTmpPrefix = ".rootfs-"
)

// maxOverlayLayers is overlayfs's OVL_MAX_STACK (fs/overlayfs/params.h): a mount with more
// lowerdirs fails with EINVAL and only dmesg says why.
const maxOverlayLayers = 500

// Prepare creates upper/, work/ and rootfs/ in containerDir and returns the mounts that make
// the container's root, to be mounted at containerDir/rootfs. diffIDs are bottom (base) first,
// as in the image config; every layer must be unpacked (ErrLayerNotFound).
//
// With overlay: one overlay Mount whose lowerdir lists the layer dirs top first, with
// upperdir and workdir; readOnly drops upper and work (a lowers-only overlay is read-only)
// and adds a small top lower, mountpoints/, holding the mount points the runner needs
// (/etc/hosts, /proc, …) that a root without an upper could not create. A layer listed twice
// is in the lowerdir once, at its topmost place, and the layers under one whose root is
// opaque are left out (overlayStack); more than overlayfs's 500 fail with ErrTooManyLayers.
//
// With vfs: the layers are copied bottom to top into rootfs/, applying whiteouts, and the
// Mount is a bind of rootfs/ onto itself (a mountpoint, as pivot_root wants). The copy is made
// beside rootfs/ and renamed in, so a rootfs/ with content is complete and is reused as is by
// a second Prepare.
//
// Prepare never mounts anything.
func (s *Snapshotter) Prepare(ctx context.Context, containerDir string, diffIDs []v1.Hash, readOnly bool) ([]mount.Mount, error) {
	mounts, err := s.prepare(ctx, containerDir, diffIDs, readOnly)
	if err != nil {
		return nil, fmt.Errorf("preparing %s: %w", containerDir, err)
	}
	return mounts, nil
}

func (s *Snapshotter) prepare(ctx context.Context, containerDir string, diffIDs []v1.Hash, readOnly bool) ([]mount.Mount, error) {
	if !filepath.IsAbs(containerDir) {
		return nil, errors.New("container dir must be an absolute path")
	}
	lowers := make([]string, len(diffIDs)) // bottom first
	for i, d := range diffIDs {
		if err := validDiffID(d); err != nil {
			return nil, err
		}
		if !s.Has(d) {
			return nil, fmt.Errorf("%w: %s", ErrLayerNotFound, short(d))
		}
		lowers[i] = s.LayerDir(d)
	}
	if err := os.MkdirAll(containerDir, 0o710); err != nil {
		return nil, err
	}
	// upper/ and a vfs rootfs/ hold the container's files as they are: setuid binaries and
	// device nodes of a hostile image, or made by the container's root. Other host users must
	// not reach them through the container dir (moby's CVE-2021-41091), whoever created it.
	if err := os.Chmod(containerDir, 0o710); err != nil {
		return nil, err
	}
	// What Prepare makes in it (upper/, rootfs/, the mount points, volumes) must not inherit
	// the host's ACLs: they would pass on to every file the container makes.
	if err := dropInheritedACLs(containerDir); err != nil {
		return nil, err
	}
	rootfs := filepath.Join(containerDir, rootfsDir)
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return nil, err
	}

	if s.driver == VFS {
		if err := s.prepareVFS(ctx, containerDir, lowers); err != nil {
			return nil, err
		}
		opts := []string{"rbind", "nodev"}
		if readOnly {
			// The copy is the container's own: the mount points go straight into it.
			if err := addMissingMountpoints(rootfs); err != nil {
				return nil, err
			}
			opts = append(opts, "ro")
		}
		return []mount.Mount{{Type: "bind", Source: rootfs, Target: "/", Options: opts}}, nil
	}

	lowers = overlayStack(lowers)
	n := len(lowers)
	if readOnly {
		n++ // the mountpoints layer
	}
	if n > maxOverlayLayers {
		return nil, fmt.Errorf("%w: %d lowerdirs, overlayfs stacks at most %d (the vfs driver has no limit)", ErrTooManyLayers, n, maxOverlayLayers)
	}
	if len(lowers) == 0 {
		empty := filepath.Join(containerDir, emptyDir)
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return nil, err
		}
		// The container's "/" takes its mode, which the user's umask must not cut.
		if err := os.Chmod(empty, 0o755); err != nil {
			return nil, err
		}
		lowers = []string{empty}
	}
	if readOnly {
		stubs, err := makeMountpoints(ctx, containerDir, lowers)
		if err != nil {
			return nil, err
		}
		lowers = append(lowers, stubs)
	}
	top := make([]string, len(lowers))
	for i, l := range lowers {
		top[len(lowers)-1-i] = escapeLowerdir(l)
	}
	// nodev: a device node shipped in a hostile layer (a block device of the host's disk,
	// say) must not open, even where the runner's devices cgroup is missing or lifted
	// (--privileged); /dev is a separate tmpfs.
	opts := []string{"lowerdir=" + strings.Join(top, ":"), "nodev"}
	if s.layer.Whiteouts == layers.WhiteoutUserXattr {
		// The layer dirs mark opaque dirs in user.overlay.*; overlay reads those only so.
		opts = append(opts, "userxattr")
	}
	if readOnly {
		opts = append(opts, "ro")
	} else {
		upper, work := filepath.Join(containerDir, upperDir), filepath.Join(containerDir, workDir)
		for _, d := range []string{upper, work} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		if err := copyRootAttrs(lowers[len(lowers)-1], upper); err != nil {
			return nil, err
		}
		opts = append(opts, "upperdir="+upper, "workdir="+work)
	}
	return []mount.Mount{{Type: "overlay", Source: "overlay", Target: "/", Options: opts}}, nil
}

// lowerDirs returns the layer dirs of diffIDs (bottom first) that Prepare puts in an overlay
// mount, bottom first too (overlayStack), or the container's empty dir for an image without
// layers.
func (s *Snapshotter) lowerDirs(containerDir string, diffIDs []v1.Hash) ([]string, error) {
	lowers := make([]string, len(diffIDs))
	for i, d := range diffIDs {
		if err := validDiffID(d); err != nil {
			return nil, err
		}
		lowers[i] = s.LayerDir(d)
	}
	lowers = overlayStack(lowers)
	if len(lowers) == 0 {
		lowers = []string{filepath.Join(containerDir, emptyDir)}
	}
	return lowers, nil
}

// overlayStack returns the layer dirs (bottom first) an overlay mount of them needs, bottom
// first: none below an opaque root (belowOpaqueRoot), and each once, at its topmost place.
// An image may list one DiffID twice (identical layers), and overlayfs refuses a lowerdir
// that appears twice (ELOOP, "conflicting lowerdir path"). The topmost copy alone gives the
// same view: below it, a layer's copy holds only names the topmost copy decides already.
func overlayStack(lowers []string) []string {
	lowers = belowOpaqueRoot(lowers)
	seen := make(map[string]bool, len(lowers))
	var top []string // top first
	for i := len(lowers) - 1; i >= 0; i-- {
		if !seen[lowers[i]] {
			seen[lowers[i]] = true
			top = append(top, lowers[i])
		}
	}
	slices.Reverse(top)
	return top
}

// belowOpaqueRoot drops the lowers (bottom first) under the topmost layer whose root is
// opaque: ".wh..wh..opq" at a layer's root hides everything below it (image-spec
// layer.md#opaque-whiteout), but overlayfs reads the opaque xattr only on the directories it
// looks up, never on a lower's root, and would show the layers below. The vfs copy clears
// what it copied so far instead.
func belowOpaqueRoot(lowers []string) []string {
	for i := len(lowers) - 1; i > 0; i-- {
		if isOpaque(lowers[i]) {
			return lowers[i:]
		}
	}
	return lowers
}

// copyRootAttrs gives upper the owner, mode, xattrs and times of the top layer's root:
// overlayfs shows the merged root with the upper root's attributes, and the image's "/"
// should not turn into whatever mkdir made. The xattrs (a user.* value, a default ACL) are
// those the vfs copy gives its root (copier.meta), overlay's own left out.
func copyRootAttrs(top, upper string) error {
	var st unix.Stat_t
	if err := unix.Stat(top, &st); err != nil {
		return err
	}
	if err := unix.Chown(upper, int(st.Uid), int(st.Gid)); err != nil && (os.Geteuid() == 0 || !errors.Is(err, unix.EPERM)) {
		return fmt.Errorf("chown %s: %w", upper, err)
	}
	if err := unix.Chmod(upper, st.Mode&0o7777); err != nil {
		return fmt.Errorf("chmod %s: %w", upper, err)
	}
	if err := copyXattrs(top, upper); err != nil {
		return err
	}
	if err := unix.UtimesNano(upper, []unix.Timespec{st.Atim, st.Mtim}); err != nil {
		return fmt.Errorf("setting times on %s: %w", upper, err)
	}
	return nil
}

// runtimeMountpoints are what the runner mounts over in every container: directories end in
// "/", the rest are files it bind-mounts onto.
var runtimeMountpoints = []string{"proc/", "sys/", "dev/", "etc/", "etc/hostname", "etc/hosts", "etc/resolv.conf"}

// makeMountpoints builds the mountpoints layer of a read-only container: the runtime mount
// points that the image lacks, so a root without an upperdir can still take its mounts. Each
// is found as the container will find it, through the image's symlinks but inside its root
// (as addMissingMountpoints does for vfs), and made only if missing: a stub over the image's
// own file, or a directory over its "etc -> usr/etc", would hide what the image has there.
// Each directory on the way repeats the attributes of the image's own (unionFS.makePath),
// since in an overlay the topmost copy of a directory decides its owner and mode.
func makeMountpoints(ctx context.Context, containerDir string, lowers []string) (string, error) {
	dir := filepath.Join(containerDir, mountpointsDir)
	if err := removeAll(dir); err != nil {
		return "", err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	if err := copyRootAttrs(lowers[len(lowers)-1], dir); err != nil {
		return "", err
	}
	view := []string{dir}
	for i := len(lowers) - 1; i >= 0; i-- {
		view = append(view, lowers[i])
	}
	u := newUnionFS(ctx, view)
	for _, p := range runtimeMountpoints {
		rel, _, err := u.resolve(p)
		if err != nil {
			return "", fmt.Errorf("runtime mount point /%s: %w", strings.TrimSuffix(p, "/"), err)
		}
		if err := u.makePath(rel, !strings.HasSuffix(p, "/")); err != nil {
			return "", fmt.Errorf("runtime mount point /%s: %w", strings.TrimSuffix(p, "/"), err)
		}
	}
	return dir, nil
}

// addMissingMountpoints creates in rootfs the runtime mount points it lacks. Each is found
// as the container will find it: through the image's symlinks, but inside rootfs (securejoin),
// so an image whose /etc leads to a host directory ("/etc -> /root/.ssh") gets the files in
// its own tree, where the init will bind over them, and nothing on the host.
func addMissingMountpoints(rootfs string) error {
	for _, p := range runtimeMountpoints {
		target, err := securejoin.SecureJoin(rootfs, strings.TrimSuffix(p, "/"))
		if err != nil {
			return err
		}
		if _, err := os.Lstat(target); err == nil {
			continue
		}
		// Resolved, target holds no symlink but possibly missing directories (a dangling
		// link's destination), made here as the init would make them: 0755 and 0644,
		// whatever the umask of whoever runs strata.
		if err := mkdirAll755(filepath.Dir(target)); err != nil {
			return err
		}
		if strings.HasSuffix(p, "/") {
			if err = os.Mkdir(target, 0o755); err == nil {
				err = os.Chmod(target, 0o755)
			}
		} else {
			var f *os.File
			if f, err = os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o644); err == nil {
				err = errors.Join(f.Chmod(0o644), f.Close())
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// mkdirAll755 is os.MkdirAll(dir, 0o755) with each directory it makes 0755 whatever the
// umask. dir holds no symlink (securejoin resolved it).
func mkdirAll755(dir string) error {
	if _, err := os.Lstat(dir); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := mkdirAll755(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil
		}
		return err
	}
	return os.Chmod(dir, 0o755)
}

// escapeLowerdir escapes the colon (the lowerdir separator) and the backslash, as overlayfs
// and package mount read a lowerdir list.
func escapeLowerdir(p string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(p)
}

// prepareVFS copies lowers (bottom first) into containerDir/rootfs unless it has content.
func (s *Snapshotter) prepareVFS(ctx context.Context, containerDir string, lowers []string) (err error) {
	rootfs := filepath.Join(containerDir, rootfsDir)
	entries, err := os.ReadDir(rootfs)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return nil
	}
	tmp, err := os.MkdirTemp(containerDir, rootfsTmpPrefix)
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
	for _, l := range lowers {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := applyCopy(ctx, l, tmp, s.layer.MinFreeBytes); err != nil {
			return fmt.Errorf("copying layer %s: %w", filepath.Base(l)[:12], err)
		}
	}
	// rootfs/ is an empty dir (checked above): replace it with the complete copy.
	if err := os.Remove(rootfs); err != nil {
		return err
	}
	return os.Rename(tmp, rootfs)
}

// Remove unmounts anything still mounted at or under containerDir, then deletes the upper,
// work and rootfs dirs Prepare made. The container dir itself and its other files (config,
// state) stay: they belong to the runner.
func (s *Snapshotter) Remove(ctx context.Context, containerDir string) error {
	if err := s.remove(ctx, containerDir); err != nil {
		return fmt.Errorf("removing snapshot of %s: %w", containerDir, err)
	}
	return nil
}

func (s *Snapshotter) remove(ctx context.Context, containerDir string) error {
	if !filepath.IsAbs(containerDir) {
		return errors.New("container dir must be an absolute path")
	}
	if err := mount.UnmountAll(containerDir); err != nil {
		return err
	}
	// Deleting through a mount that is still there would delete a shared layer's files.
	// mountinfo lists resolved paths.
	real := containerDir
	if p, err := filepath.EvalSymlinks(containerDir); err == nil {
		real = p
	}
	left, err := mount.Mounts(mountinfo.PrefixFilter(real))
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("%w: %s", ErrBusy, left[0].Mountpoint)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	names := []string{upperDir, workDir, rootfsDir, emptyDir, mountpointsDir}
	tmps := withPrefix(containerDir, rootfsTmpPrefix)
	var errs []error
	for _, p := range append(tmps, names...) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(containerDir, p)
		}
		if err := removeAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
