package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/strata-run/strata/archive"
	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

type saveOptions struct {
	output       string
	format       string
	platform     string
	allPlatforms bool
}

func newSaveCmd(g *globals) *cobra.Command {
	var o saveOptions
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Write images to an archive (docker-archive, oci-archive) or an OCI layout directory",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := runSave(cmd, g, o, args); err != nil {
				return err
			}
			for _, a := range args {
				imageEvent(g, "save", a, a)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "", "write to this file (or directory, for oci-dir) instead of stdout")
	f.StringVar(&o.format, "format", string(archive.DockerArchive), "docker-archive (loads with docker and podman), oci-archive or oci-dir")
	f.StringVar(&o.platform, "platform", "", "save only this os/arch[/variant] of a multi-platform image")
	f.BoolVar(&o.allPlatforms, "all-platforms", false, "save every platform of an image pulled with --all-platforms")
	return cmd
}

func runSave(cmd *cobra.Command, g *globals, o saveOptions, args []string) (err error) {
	format, err := archive.ParseFormat(o.format)
	if err != nil {
		return err
	}
	opts := archive.SaveOptions{Format: format, AllPlatforms: o.allPlatforms}
	if o.platform != "" {
		if o.allPlatforms {
			return errors.New("--platform and --all-platforms exclude each other")
		}
		p, err := registry.ParsePlatform(o.platform)
		if err != nil {
			return err
		}
		opts.Platform = &p
	}
	store, err := g.openStore()
	if err != nil {
		return err
	}
	// Held from finding the images to the last blob written: an rmi meanwhile untags them,
	// but its collection waits, so a save that found an image writes it whole.
	release, err := store.Hold(cmd.Context())
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, release()) }()
	var refs []cache.Ref
	for _, a := range args {
		found, err := repositoryRefs(store, a)
		if err != nil {
			return err
		}
		if len(found) == 0 {
			r, err := findRef(store, a)
			if err != nil {
				return err
			}
			if savedByID(a, r) || savedByDigest(a, r) {
				// As docker save <ID>: the image goes without a name (manifest.json lists no
				// RepoTags), where it carried whichever name of the image the store lists first.
				r.Name = ""
			}
			found = []cache.Ref{r}
		}
		for _, r := range found {
			// An image named twice is written once, as docker does: twice, its load printed
			// it twice.
			if slices.ContainsFunc(refs, func(x cache.Ref) bool {
				return x.Name == r.Name && x.Descriptor.Digest == r.Descriptor.Digest
			}) {
				continue
			}
			refs = append(refs, r)
		}
	}
	refs = namedOnce(refs)
	ctx := cmd.Context()
	if snap, err := g.unpackedLayers(); err != nil {
		return err
	} else if snap != nil {
		for _, r := range refs {
			if err := checkLayersOf(ctx, snap, store, r.Descriptor); err != nil {
				name := shortDigest(r.Descriptor.Digest)
				if ref, perr := registry.ParseReference(r.Name); perr == nil {
					name = ref.Familiar()
				}
				return fmt.Errorf("saving %s: %w", name, err)
			}
		}
	}
	if o.output != "" && o.output != "-" {
		if err := refuseOwnFiles(g, o.output); err != nil {
			return err
		}
	}
	if format == archive.OCIDir {
		if o.output == "" || o.output == "-" {
			return errors.New("--format oci-dir needs -o DIR")
		}
		return archive.SaveDir(ctx, o.output, store, refs, opts)
	}
	if o.output == "" || o.output == "-" {
		out := cmd.OutOrStdout()
		if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return errors.New("refusing to write an archive to a terminal: use -o FILE or redirect stdout")
		}
		return archive.Save(ctx, out, store, refs, opts)
	}
	return writeFileAtomic(o.output, func(w io.Writer) error {
		return archive.Save(ctx, w, store, refs, opts)
	})
}

// savedByID says whether arg, which found r, named the image by its ID or a prefix of it
// ("04574bec7a1d", "sha256:0457…") rather than by one of its names: a name that is hex
// digits too ("04574bec7a1d:latest" stored) is a name.
func savedByID(arg string, r cache.Ref) bool {
	hex := strings.TrimPrefix(arg, "sha256:")
	if r.Name == "" || hex == "" || len(hex) > 64 || !isHexString(hex) {
		return false
	}
	if ref, err := registry.ParseReference(arg); err == nil && ref.String() == r.Name {
		return false
	}
	return r.Name != arg
}

// repositoryRefs returns the store's names in the repository arg names when arg is a
// repository alone, no tag or digest typed ("alpine", not "alpine:latest"): docker save
// writes every image of the repository with its names then (reference.IsNameOnly), where
// strata saved NAME:latest alone, or failed when the repository has no latest. None when arg
// is something else, or an ID (a prefix of 12 hex digits or more reads as one), or the
// repository holds nothing: findRef looks it up then, and says what is missing.
func repositoryRefs(store *cache.Store, arg string) ([]cache.Ref, error) {
	ref, err := registry.ParseReference(arg)
	if err != nil || ref.Digest() != "" || strings.HasSuffix(arg, ":"+ref.Tag()) || looksLikeID(arg) {
		return nil, nil
	}
	all, err := store.List()
	if err != nil {
		return nil, err
	}
	var found []cache.Ref
	for _, r := range all {
		if have, err := registry.ParseReference(r.Name); err == nil && have.Name() == ref.Name() && cache.CheckRef(r.Name) == nil {
			found = append(found, r)
		}
	}
	return found, nil
}

// savedByDigest says whether arg, which found r, named the image by a digest ("alpine@sha256:…",
// "alpine:3@sha256:…") that r's name is not: r is then one of the image's tags, which the
// user did not give, and docker saves an image named by digest without a tag ("If user exports
// a specific digest, it shouldn't have a tag"). A name by digest in the store is its own.
func savedByDigest(arg string, r cache.Ref) bool {
	ref, err := registry.ParseReference(arg)
	return err == nil && ref.Digest() != "" && r.Name != "" && r.Name != ref.ByDigest().String()
}

// namedOnce drops the images saved by ID that another argument saves by a name, as docker
// save writes `save alpine 04574bec7a1d` as alpine alone: the ID adds no image, and an
// unnamed copy of it in the archive would make load ask for a --name.
func namedOnce(refs []cache.Ref) []cache.Ref {
	named := map[string]bool{}
	for _, r := range refs {
		if r.Name != "" {
			named[r.Descriptor.Digest.String()] = true
		}
	}
	return slices.DeleteFunc(refs, func(r cache.Ref) bool {
		return r.Name == "" && named[r.Descriptor.Digest.String()]
	})
}

// refuseOwnFiles refuses an output that leads into strata's own directories under the root
// (the image store, the containers, the snapshots), as tar refuses to write an archive into
// what it archives: `save -o ROOT/oci/index.json` renamed the archive over the store's
// index.json, and `-o ROOT/oci/blobs/sha256/<layer>` over a blob it was reading, and the save
// said nothing while every later command failed. out is followed through its symlinks as
// the write follows them; one still dangling leads where its target would be created.
func refuseOwnFiles(g *globals, out string) error {
	target := resolveOutput(out)
	for _, dir := range []string{g.storeDir(), g.containersDir(), g.snapshotsDir()} {
		d, err := filepath.Abs(dir)
		if err != nil {
			continue
		}
		if r, err := filepath.EvalSymlinks(d); err == nil {
			d = r
		}
		if target == d || strings.HasPrefix(target, d+string(filepath.Separator)) {
			return fmt.Errorf("writing %s: it is in strata's own %s, which the archive would damage: write it elsewhere", quotePath(out), quotePath(dir))
		}
	}
	return nil
}

// resolveOutput is the absolute path, its symlinks resolved, that a write to out reaches: out
// itself when it exists, else its directory resolved and its name, a dangling symlink's
// target resolved so in turn.
func resolveOutput(out string) string {
	p, err := filepath.Abs(out)
	if err != nil {
		return out
	}
	for range 40 { // the kernel's bound on a chain of links
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		dir, base := filepath.Split(p)
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			dir = r
		}
		link, err := os.Readlink(filepath.Join(dir, base))
		if err != nil {
			return filepath.Join(dir, base)
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(dir, link)
		}
		p = filepath.Clean(link)
	}
	return p
}

// findRef finds a stored image by the user's words, as the image commands do: a reference
// ("alpine" is docker.io/library/alpine:latest) or an ID prefix. It does not open the image,
// so a ref naming a multi-platform index is found too. An ID (or a prefix) finds a dangling
// image, one a container was created from and no name reaches any more, as docker finds
// one: it is found with Name "". A prefix of two images' IDs, named or dangling, is
// ambiguous.
func findRef(store *cache.Store, arg string) (cache.Ref, error) {
	name := arg
	if ref, err := registry.ParseReference(arg); err == nil {
		name = ref.String()
	}
	roots := danglingRoots(store, arg)
	r, err := store.FindImageWith(name, roots)
	if errors.Is(err, cache.ErrNotFound) && name != arg {
		r, err = store.FindImageWith(arg, roots)
	}
	if errors.Is(err, cache.ErrNotFound) {
		r, err = findByRepoDigest(store, arg)
	}
	if errors.Is(err, cache.ErrNotFound) {
		ref, perr := registry.ParseReference(arg)
		if perr != nil && !looksLikeID(arg) {
			// As docker, and as run does: a name that is no reference ("ALPINE", "a//b") is
			// refused as such once the store has no name written so (another tool's), not
			// said to be missing, which sent users looking for an image.
			return cache.Ref{}, perr
		}
		// A valid reference is printable and bounded (ParseReference refuses one of more
		// than 1024 bytes): it is named whole, digest and all, as typed.
		if perr != nil || looksLikeID(arg) || cache.CheckRef(ref.String()) != nil {
			// Nothing to pull by that name (none at all, an ID, or one the store refuses:
			// "sha256:x" reads as an ID): the hint would be another error.
			return cache.Ref{}, fmt.Errorf("image %s is not in the store", quoteArg(arg))
		}
		return cache.Ref{}, fmt.Errorf("image %s is not in the store: run 'strata pull %s' first", arg, arg)
	}
	return r, err
}

// looksLikeID says whether arg is an image ID or a prefix of one as the user copied it from
// images or ps ("sha256:0457…", or 12 to 64 hex digits), not a name: pulling it, as the
// not-found hint says for a name, pulls nothing (it read "run 'strata pull
// sha256:648c55541b72' first", a repository "sha256" with that tag).
func looksLikeID(arg string) bool {
	hex, digest := strings.CutPrefix(arg, "sha256:")
	return hex != "" && len(hex) <= 64 && isHexString(hex) && (digest || len(hex) >= 12)
}

// writeFileAtomic writes the archive fn produces to path, which is where it leads, as `tar -f`
// and a shell's > write: through a symlink, or a chain of them, to its target, and a dangling
// link's target is created. A symlink or a device is never replaced by a file: saving to a
// link replaced the link, and -o /dev/stdout replaced the host's /dev/stdout.
//
// A regular file (or a missing one) is written into a temp file beside it (beside the link's
// target, for a link) and renamed into place only when fn succeeded, so an interrupted or
// failed save leaves no half archive under the name. A directory is refused. What cannot be
// renamed over (a device, a FIFO, a pipe or file reached through /proc/self/fd/N, a file in a
// directory that allows no new file) is written in place.
//
// The directory may be another user's, who can rename the temp file away and put a symlink
// under its name while the archive is written: the file's mode is set through its
// descriptor, never its name (a chmod by name made a host file world-readable), and a name
// that no longer leads to the file written fails the save. A link is followed by the kernel
// (open), never by reading it alone, so fs.protected_symlinks still keeps a root save from
// following another user's link in /tmp.
func writeFileAtomic(path string, fn func(io.Writer) error) error {
	fi, err := os.Lstat(path)
	switch {
	case err != nil:
		// Missing (or unreachable: creating the temp file says why).
		return writeReplace(path, path, nil, fn)
	case fi.Mode()&os.ModeSymlink != 0:
		return writeThroughLink(path, fn)
	case fi.IsDir():
		return fmt.Errorf("writing %s: is a directory", quotePath(path))
	case !fi.Mode().IsRegular():
		return writeSpecial(path, fi, fn)
	}
	return writeReplace(path, path, fi, fn)
}

// writeThroughLink is writeFileAtomic of a path that is a symlink.
func writeThroughLink(path string, fn func(io.Writer) error) (err error) {
	target, created, err := openTarget(path)
	if err != nil {
		return fmt.Errorf("writing %s: %w", quotePath(path), err)
	}
	fi, err := target.Stat()
	if err != nil {
		target.Close()
		return fmt.Errorf("writing %s: %w", quotePath(path), err)
	}
	name, magic := linkTarget(path, target, fi)
	target.Close()
	if created && name != "" {
		defer func() {
			// A failed save leaves no file it created, as it leaves no temp file.
			if err != nil {
				removeIfSame(name, fi)
			}
		}()
	}
	switch {
	case fi.IsDir():
		return fmt.Errorf("writing %s: is a directory", quotePath(path))
	case fi.Mode().IsRegular() && !magic && name != "":
		return writeReplace(path, name, fi, fn)
	}
	return writeSpecial(path, fi, fn)
}

// openTarget opens, O_PATH, what path leads to, following every link as open(2) does. A
// dangling link's target is created first, as > creates it; created says so.
func openTarget(path string) (f *os.File, created bool, err error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		// O_NONBLOCK: a FIFO made there meanwhile must not hang the open.
		c, cerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0o644)
		if cerr != nil {
			return nil, false, withoutPath(cerr)
		}
		c.Close()
		created = true
		fd, err = unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, false, err
	}
	return os.NewFile(uintptr(fd), path), created, nil
}

// linkTarget returns the name of the file target (opened through the link at path), for a
// rename next to it, or "" when it has none (a pipe, a deleted file); magic is true when the
// chain of links goes through /proc (/dev/stdout is /proc/self/fd/1): what it names is an open
// file of a process, written in place like a device.
func linkTarget(path string, target *os.File, fi os.FileInfo) (name string, magic bool) {
	hop := path
	for range 40 { // the kernel's own bound on a chain of links
		lfi, err := os.Lstat(hop)
		if err != nil || lfi.Mode()&os.ModeSymlink == 0 {
			break
		}
		var fs unix.Statfs_t
		if unix.Statfs(filepath.Dir(hop), &fs) == nil && fs.Type == unix.PROC_SUPER_MAGIC {
			return "", true
		}
		next, err := os.Readlink(hop)
		if err != nil {
			break
		}
		if !filepath.IsAbs(next) {
			next = filepath.Join(filepath.Dir(hop), next)
		}
		hop = next
	}
	// The kernel's name for the file opened; the walk above, when /proc is not mounted.
	for _, n := range []string{procFDName(target), hop} {
		if !filepath.IsAbs(n) {
			continue
		}
		if got, err := os.Lstat(n); err == nil && os.SameFile(got, fi) {
			return n, false
		}
	}
	return "", false
}

// procFDName is the name /proc gives the open file f, or "".
func procFDName(f *os.File) string {
	n, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		return ""
	}
	return n
}

// removeIfSame removes name if it is still the file fi: one a failed save created through a
// dangling link, whatever the save wrote into it.
func removeIfSame(name string, fi os.FileInfo) {
	if got, err := os.Lstat(name); err == nil && os.SameFile(got, fi) {
		os.Remove(name)
	}
}

// writeReplace writes through fn into a temp file beside name and renames it onto name; path
// is what the user gave, for messages. old is the regular file at name, or nil for none; a
// name that no longer leads to it when the archive is done fails the save. A directory that
// allows no new file (the user may write the file, not its directory) gets old written in
// place.
//
// The temp file is made without a name (O_TMPFILE) where the filesystem allows, and linked
// beside name only once the archive is whole, just before the rename: a save killed while
// it writes (SIGKILL, SIGHUP, the OOM killer) leaves nothing, where a named temp file stayed
// behind, hidden and as large as the archive got. Elsewhere the temp file is named from the
// start, as before.
func writeReplace(path, name string, old os.FileInfo, fn func(io.Writer) error) (err error) {
	f, tmp, err := createTemp(name)
	if err != nil {
		if old != nil && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) {
			return writeSpecial(path, old, fn)
		}
		// The temp file's random name is no name the user gave: say why path cannot be made.
		return fmt.Errorf("creating %s: %w", quotePath(path), withoutPath(err))
	}
	defer func() {
		if err != nil && tmp != "" {
			err = errors.Join(err, os.Remove(tmp))
		}
	}()
	err = fn(f)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil && tmp == "" {
		tmp, err = linkTemp(f, name)
	}
	if err == nil {
		err = sameFile(f, tmp)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && old != nil {
		if got, lerr := os.Lstat(name); lerr != nil || !os.SameFile(got, old) {
			err = fmt.Errorf("%s was replaced while the archive was written", quotePath(name))
		}
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", quotePath(path), err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("writing %s: %w", quotePath(path), err)
	}
	return nil
}

// unnamedTemp makes createTemp try O_TMPFILE; a test turns it off to cover the named path.
var unnamedTemp = true

// createTemp opens a new file for the archive in name's directory: without a name (tmp "")
// when the filesystem has O_TMPFILE, else a named temp file (tmp is its name).
func createTemp(name string) (f *os.File, tmp string, err error) {
	dir := filepath.Dir(name)
	if unnamedTemp {
		fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
		if err == nil {
			return os.NewFile(uintptr(fd), name), "", nil
		}
		// EISDIR, EOPNOTSUPP or EINVAL: no O_TMPFILE here (an old kernel, some network and
		// FUSE filesystems). Other errors (no such directory, no permission) are the named
		// temp file's too, and it says them.
		if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EINVAL) {
			return nil, "", &fs.PathError{Op: "open", Path: dir, Err: err}
		}
	}
	f, err = os.CreateTemp(dir, "."+filepath.Base(name)+".tmp-")
	if err != nil {
		return nil, "", err
	}
	return f, f.Name(), nil
}

// linkTemp gives f, an O_TMPFILE file, a new random name beside name and returns it. linkat
// never follows or replaces what is at the new name: a name taken (by anyone) is passed over.
func linkTemp(f *os.File, name string) (string, error) {
	prefix := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".tmp-")
	for range 100 {
		tmp := prefix + strconv.FormatUint(uint64(rand.Uint32()), 10)
		// AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc link of the descriptor does not.
		err := unix.Linkat(int(f.Fd()), "", unix.AT_FDCWD, tmp, unix.AT_EMPTY_PATH)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPERM) {
			err = unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", f.Fd()), unix.AT_FDCWD, tmp, unix.AT_SYMLINK_FOLLOW)
		}
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("naming the archive: %w", err)
		}
		return tmp, nil
	}
	return "", fmt.Errorf("naming the archive: no free temp name beside %s", quotePath(name))
}

// sameFile fails unless name, not followed if a symlink, is the open file f.
func sameFile(f *os.File, name string) error {
	want, err := f.Stat()
	if err != nil {
		return err
	}
	got, err := os.Lstat(name)
	if err != nil {
		return err
	}
	if !os.SameFile(want, got) {
		return fmt.Errorf("%s was replaced while the archive was written", quotePath(name))
	}
	return nil
}

// writeSpecial writes through fn straight into the existing device, FIFO or file path leads
// to, which stat found as fi; a regular file is truncated first, as > truncates it. A FIFO is opened without waiting for a reader: with none, the save fails
// at once instead of hanging in open(2). What is opened must be what was stat'ed: a regular
// file or a symlink swapped in between would be written over in place.
func writeSpecial(path string, fi os.FileInfo, fn func(io.Writer) error) (err error) {
	// O_NOCTTY: a terminal named here must not become strata's controlling terminal.
	flag := os.O_WRONLY | syscall.O_NOCTTY
	if fi.Mode()&os.ModeNamedPipe != 0 {
		flag |= syscall.O_NONBLOCK
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return fmt.Errorf("writing %s: %w", quotePath(path), withoutPath(err))
	}
	if now, serr := f.Stat(); serr != nil || !os.SameFile(fi, now) {
		f.Close()
		return fmt.Errorf("writing %s: it was replaced as it was opened", quotePath(path))
	}
	if term.IsTerminal(int(f.Fd())) {
		// As to stdout: an archive on a terminal is garbage on the screen.
		f.Close()
		return fmt.Errorf("writing %s: refusing to write an archive to a terminal", quotePath(path))
	}
	if fi.Mode().IsRegular() {
		// Only now that it is known to be the file stat'ed: truncated as > truncates it.
		err = f.Truncate(0)
	}
	if err == nil {
		err = fn(f)
	}
	if err != nil && fi.Mode().IsRegular() {
		// No half archive where the file was: it is left empty, as it was made ready.
		_ = f.Truncate(0)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", quotePath(path), err)
	}
	return nil
}
