package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/strata-run/strata/internal/copytar"
	"github.com/strata-run/strata/runner"
)

// cpOptions are docker cp's flags.
type cpOptions struct {
	archive, followLink, quiet bool
}

// newCpCmd is docker cp: a file or a directory between a container (running or stopped) and
// the host, or a tar stream ("-") on stdin or stdout, with docker's path rules (moby's
// archive.CopyInfo and PrepareArchiveCopy).
func newCpCmd(g *globals) *cobra.Command {
	var o cpOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  strata cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: `Copy files/folders between a container and the local filesystem

Use '-' as the source to read a tar archive from stdin
and extract it to a directory destination in a container.
Use '-' as the destination to stream a tar archive of a
container source to stdout.`,
		Args:                  cobra.ExactArgs(2),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "" {
				return errors.New("source can not be empty")
			}
			if args[1] == "" {
				return errors.New("destination can not be empty")
			}
			if !cmd.Flags().Changed("quiet") {
				// As docker: no summary unless stdout is a terminal.
				o.quiet = !term.IsTerminal(int(os.Stdout.Fd()))
			}
			srcCtr, srcPath := splitCpArg(args[0])
			dstCtr, dstPath := splitCpArg(args[1])
			switch {
			case srcCtr != "" && dstCtr != "":
				return errors.New("copying between containers is not supported")
			case srcCtr != "":
				return copyFromContainer(cmd, g, o, srcCtr, srcPath, dstPath)
			case dstCtr != "":
				return copyToContainer(cmd, g, o, srcPath, dstCtr, dstPath)
			}
			return errors.New("must specify at least one container source")
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.followLink, "follow-link", "L", false, "Always follow symlinks in SRC_PATH")
	f.BoolVarP(&o.archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// splitCpArg splits CONTAINER:PATH as docker does: a local path with a ":" is made explicit
// by starting with "/" or ".".
func splitCpArg(arg string) (ctr, p string) {
	if strings.HasPrefix(arg, "/") {
		return "", arg
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(ctr, ".") {
		return "", arg
	}
	return ctr, p
}

// copyInfo is moby's archive.CopyInfo: a path at one end of a copy, what is there, and the
// name the source's entries take when it is not the path's own (-L).
type copyInfo struct {
	path       string
	exists     bool
	isDir      bool
	rebaseName string
}

// Path helpers of moby's archive package, on "/" paths.
func hasTrailingSep(p string) bool      { return strings.HasSuffix(p, "/") }
func specifiesCurrentDir(p string) bool { return path.Base(p) == "." }
func assertsDirectory(p string) bool    { return hasTrailingSep(p) || specifiesCurrentDir(p) }

// preserveTrailing is archive.PreserveTrailingDotOrSeparator: cleaned keeps the "/." or "/"
// that original ends with, which say "the directory's contents" and "a directory".
func preserveTrailing(cleaned, original string) string {
	if !specifiesCurrentDir(cleaned) && specifiesCurrentDir(original) {
		if !hasTrailingSep(cleaned) {
			cleaned += "/"
		}
		cleaned += "."
	}
	if !hasTrailingSep(cleaned) && hasTrailingSep(original) {
		cleaned += "/"
	}
	return cleaned
}

// splitPathDirEntry is archive.SplitPathDirEntry: dir and base of a path, a trailing "."
// kept as the base.
func splitPathDirEntry(p string) (dir, base string) {
	cleaned := path.Clean(p)
	if specifiesCurrentDir(p) {
		cleaned += "/."
	}
	return path.Dir(cleaned), path.Base(cleaned)
}

// prepareCopy is archive.PrepareArchiveCopy: the directory to extract into and the name
// the source's top entry takes there.
func prepareCopy(src, dst copyInfo) (dstDir, name string, err error) {
	dir, dstBase := splitPathDirEntry(dst.path)
	_, srcBase := splitPathDirEntry(src.path)
	if src.rebaseName != "" {
		srcBase = src.rebaseName
	}
	switch {
	case dst.exists && dst.isDir:
		return dst.path, srcBase, nil
	case dst.exists && src.isDir:
		return "", "", errors.New("cannot copy directory")
	case dst.exists, src.isDir:
		return dir, dstBase, nil
	case assertsDirectory(dst.path):
		return "", "", errors.New("no such directory")
	}
	return dir, dstBase, nil
}

// tarName is the name a tree's top entry gets: "." for the contents of a directory.
func tarName(base string) string {
	if base == "/" || base == "" {
		return "."
	}
	return base
}

func copyFromContainer(cmd *cobra.Command, g *globals, o cpOptions, ctr, srcPath, dstPath string) (err error) {
	ctx := cmd.Context()
	if dstPath != "-" {
		abs, err := filepath.Abs(dstPath)
		if err != nil {
			return err
		}
		dstPath = preserveTrailing(abs, dstPath)
		if err := validateOutputPath(dstPath); err != nil {
			return err
		}
	}
	_, c, err := g.getContainer(ctr)
	if err != nil {
		return err
	}
	root, err := runner.OpenCopyRoot(c)
	if err != nil {
		return fmt.Errorf("%s: %w", ctr, err)
	}
	defer root.Close()
	defer func() {
		if err == nil {
			runner.Event(c, "archive-path", nil) // docker's event for a copy out of a container
		}
	}()

	// The daemon's ResolvePath: the path is absolute in the container; all but its last
	// component are resolved (inside the root), the last too after a trailing "/" or -L.
	abs := preserveTrailing(path.Join("/", srcPath), srcPath)
	fd, err := root.Open(abs, o.followLink || hasTrailingSep(abs))
	if err != nil {
		return containerPathError(ctr, abs, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	_, base := splitPathDirEntry(abs)
	name := tarName(base)

	if dstPath == "-" {
		if o.followLink {
			// docker names a followed link's entries after its target here, where the
			// rebase to the link's name happens only on the way to a local path.
			if target := ctrLinkTarget(root, abs); target != "" {
				name = tarName(path.Base(target))
			}
		}
		// Sparse entries, as export writes them: every tar reader makes the holes again,
		// and a container's file of a terabyte of holes costs its data (docker's writes
		// the whole size).
		_, err := copytar.WriteTreeWith(ctx, os.Stdout, fd, name, copytar.WriteOptions{Holes: true})
		return err
	}
	if m := st.Mode & unix.S_IFMT; m == unix.S_IFCHR || m == unix.S_IFBLK {
		// Device nodes are left out on the host (Extract's NoDevices): one asked for by
		// name would be a copy of nothing that says it succeeded.
		return fmt.Errorf("%s: cannot copy a device node to the host", abs)
	}
	src := copyInfo{path: abs, exists: true, isDir: st.Mode&unix.S_IFMT == unix.S_IFDIR}
	dst, err := hostDestInfo(dstPath)
	if err != nil {
		return err
	}
	dstDir, name, err := prepareCopy(src, dst)
	if err != nil {
		return err
	}
	dirfd, err := unix.Open(dstDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dstDir, Err: err}
	}
	defer unix.Close(dirfd)
	var owner *[2]int
	if !o.archive {
		owner = &[2]int{os.Getuid(), os.Getgid()}
	}
	_, transferred, err := pipeTree(ctx, fd, tarName(name), func(r io.Reader) (int64, error) {
		return copytar.Extract(ctx, dirfd, r, copytar.ExtractOptions{Owner: owner, NoDevices: true, MinFreeBytes: -1, MaxSize: cpMaxSize, MaxEntries: cpMaxEntries})
	})
	if err == nil && !o.quiet {
		// docker's: a file's own size, a directory's the tar's.
		size := transferred
		if !src.isDir {
			size = st.Size
		}
		printCopySummary(cmd.ErrOrStderr(), size, transferred, dstPath)
	}
	return err
}

func copyToContainer(cmd *cobra.Command, g *globals, o cpOptions, srcPath, ctr, dstPath string) (err error) {
	ctx := cmd.Context()
	if srcPath != "-" {
		abs, err := filepath.Abs(srcPath)
		if err != nil {
			return err
		}
		srcPath = preserveTrailing(abs, srcPath)
	}
	_, c, err := g.getContainer(ctr)
	if err != nil {
		return err
	}
	root, err := runner.OpenCopyRoot(c)
	if err != nil {
		return fmt.Errorf("%s: %w", ctr, err)
	}
	defer root.Close()
	defer func() {
		if err == nil {
			runner.Event(c, "extract-to-dir", nil) // docker's event for a copy into a container
		}
	}()

	dst, err := containerDestInfo(root, ctr, dstPath)
	if err != nil {
		return err
	}
	var owner *[2]int
	if !o.archive {
		owner = &[2]int{0, 0} // the container's root, as docker's
	}
	extractTo := func(dstDir string, r io.Reader) (int64, error) {
		abs := path.Join("/", dstDir)
		dirfd, err := root.OpenForWrite(abs)
		if err != nil {
			return 0, containerPathError(ctr, abs, err)
		}
		defer unix.Close(dirfd)
		var st unix.Stat_t
		if err := unix.Fstat(dirfd, &st); err != nil {
			return 0, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return 0, errors.New("extraction point is not a directory")
		}
		opts := copytar.ExtractOptions{Owner: owner, MaxSize: cpMaxSize, MaxEntries: cpMaxEntries}
		if !root.OnStore(dirfd) {
			opts.MinFreeBytes = -1 // a volume on another disk, a tmpfs: not strata's to keep room on
		}
		return copytar.Extract(ctx, dirfd, r, opts)
	}

	if srcPath == "-" {
		if !dst.isDir {
			return fmt.Errorf("destination %q must be a directory", ctr+":"+dstPath)
		}
		n, err := extractTo(dst.path, os.Stdin)
		if err == nil && !o.quiet {
			printCopySummary(cmd.ErrOrStderr(), n, n, ctr+":"+dst.path)
		}
		return err
	}
	src, err := hostSourceInfo(srcPath, o.followLink)
	if err != nil {
		return err
	}
	dstDir, name, err := prepareCopy(src, dst)
	if err != nil {
		return err
	}
	fd, err := unix.Open(src.path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: src.path, Err: err}
	}
	defer unix.Close(fd)
	content, transferred, err := pipeTree(ctx, fd, tarName(name), func(r io.Reader) (int64, error) {
		return extractTo(dstDir, r)
	})
	if err == nil && !o.quiet {
		printCopySummary(cmd.ErrOrStderr(), content, transferred, ctr+":"+dst.path)
	}
	return err
}

// cpMaxSize and cpMaxEntries lift a pulled layer's bounds (64 GiB, 1Mi entries) off a copy,
// which docker bounds by nothing: the tree or tar is the user's or their container's, and a
// container's writable layer keeps the store's free-space floor (of bytes and inodes).
const (
	cpMaxSize    int64 = 1 << 62
	cpMaxEntries       = math.MaxInt32
)

// pipeTree writes the tree fd is open on as a tar into extract, as it reads it. It returns
// the bytes of file content and of tar that went through.
func pipeTree(ctx context.Context, fd int, name string, extract func(io.Reader) (int64, error)) (content, transferred int64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		// Sparse entries: Extract keeps their holes, and a file of a terabyte of holes costs
		// its data, not its size (docker's cp writes it whole, and dense).
		n, err := copytar.WriteTreeWith(ctx, pw, fd, name, copytar.WriteOptions{Holes: true})
		content = n
		pw.CloseWithError(err)
		done <- err
	}()
	transferred, err = extract(pr)
	// Reading stops early on an error: the writer must not wait on the pipe forever.
	pr.CloseWithError(errors.New("copy ended"))
	cancel()
	werr := <-done
	if err == nil && werr != nil {
		err = werr
	}
	return content, transferred, err
}

// containerPathError says what a container path that did not resolve lacks, in docker's
// words for a missing one.
func containerPathError(ctr, p string, err error) error {
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("Could not find the file %s in container %s", p, ctr)
	}
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return err // says what already
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) {
		return fmt.Errorf("%s: too many levels of symbolic links", p)
	}
	if errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("%s: not a directory", p)
	}
	return fmt.Errorf("%s: %w", p, err)
}

// containerDestInfo is the CLI's stat of a destination in the container: a symlink there is
// the path it leads to (one level, relative to its dir), which need not exist.
func containerDestInfo(root *runner.CopyRoot, ctr, p string) (copyInfo, error) {
	info := copyInfo{path: p}
	abs := preserveTrailing(path.Join("/", p), p)
	fd, err := root.Open(abs, hasTrailingSep(abs))
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return info, nil // the extraction says whether its directory is there
		}
		return info, containerPathError(ctr, abs, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return info, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return info, err
		}
		target := string(buf[:n])
		if !path.IsAbs(target) {
			parent, _ := splitPathDirEntry(p)
			target = path.Join(parent, target)
		}
		info.path = target
		tfd, err := root.Open(path.Join("/", target), false)
		if err != nil {
			return info, nil
		}
		defer unix.Close(tfd)
		if err := unix.Fstat(tfd, &st); err != nil {
			return info, err
		}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR, unix.S_IFREG:
	case unix.S_IFLNK: // a link to a link: the extraction replaces it
	default:
		return info, fmt.Errorf("destination %q must be a directory or a regular file: %s", ctr+":"+p, irregular(st.Mode))
	}
	info.exists, info.isDir = true, st.Mode&unix.S_IFMT == unix.S_IFDIR
	return info, nil
}

// ctrLinkTarget is what the symlink at p in the container holds, "" for no symlink.
func ctrLinkTarget(root *runner.CopyRoot, p string) string {
	fd, err := root.Open(p, false)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return ""
	}
	return path.Clean(string(buf[:n]))
}

func irregular(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFCHR, unix.S_IFBLK:
		return "got a device"
	}
	return "got an irregular file"
}

// hostSourceInfo is archive.CopyInfoSourcePath: the local source must exist; the symlinks
// before its last component are followed, the last one too with -L, its entries then taking
// the link's name.
func hostSourceInfo(p string, follow bool) (copyInfo, error) {
	var resolved string
	if follow {
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			return copyInfo{}, err
		}
		resolved = r
	} else {
		dir, base := filepath.Split(p)
		rdir, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return copyInfo{}, err
		}
		resolved = strings.TrimSuffix(rdir, "/") + "/" + base
	}
	// archive.GetRebaseName: the trailing "/" or "/." stays, and a link's name is kept.
	if specifiesCurrentDir(p) && !specifiesCurrentDir(resolved) {
		resolved += "/."
	}
	if hasTrailingSep(p) && !hasTrailingSep(resolved) {
		resolved += "/"
	}
	info := copyInfo{path: resolved, exists: true}
	if path.Base(p) != path.Base(resolved) {
		info.rebaseName = path.Base(p)
	}
	st, err := os.Lstat(resolved)
	if err != nil {
		return copyInfo{}, err
	}
	info.isDir = st.IsDir()
	return info, nil
}

// hostDestInfo is archive.CopyInfoDestinationPath: a symlink at the destination is where it
// leads, which need not exist; its parent must.
func hostDestInfo(p string) (copyInfo, error) {
	st, err := os.Lstat(p)
	for n := 0; err == nil && st.Mode()&os.ModeSymlink != 0; n++ {
		if n > 10 {
			return copyInfo{}, fmt.Errorf("too many symlinks in %s", p)
		}
		target, rerr := os.Readlink(p)
		if rerr != nil {
			return copyInfo{}, rerr
		}
		if !filepath.IsAbs(target) {
			parent, _ := splitPathDirEntry(p)
			target = filepath.Join(parent, target)
		}
		p = target
		st, err = os.Lstat(p)
	}
	if err != nil {
		if !os.IsNotExist(err) {
			return copyInfo{}, err
		}
		parent, _ := splitPathDirEntry(p)
		pst, err := os.Stat(parent)
		if err != nil {
			return copyInfo{}, err
		}
		if !pst.IsDir() {
			return copyInfo{}, errors.New("not a directory")
		}
		return copyInfo{path: p}, nil
	}
	return copyInfo{path: p, exists: true, isDir: st.IsDir()}, nil
}

// validateOutputPath is the CLI's check of a local destination before it copies.
func validateOutputPath(p string) error {
	if dir := filepath.Dir(filepath.Clean(p)); dir != "" && dir != "." {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return fmt.Errorf("invalid output path: directory %q does not exist", dir)
		}
	}
	st, err := os.Stat(p)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode().IsRegular() {
		return nil
	}
	what := "got an irregular file"
	if st.Mode()&os.ModeDevice != 0 {
		what = "got a device"
	}
	return fmt.Errorf("invalid output path: %q must be a directory or a regular file: %s", p, what)
}

// printCopySummary is docker's line after a copy, on stderr.
func printCopySummary(w io.Writer, content, transferred int64, dest string) {
	if content != transferred {
		fmt.Fprintf(w, "Successfully copied %s (transferred %s) to %s\n", humanSizePrec(content), humanSizePrec(transferred), dest)
		return
	}
	fmt.Fprintf(w, "Successfully copied %s to %s\n", humanSizePrec(content), dest)
}

// humanSizePrec is go-units' HumanSizeWithPrecision(n, 3), which docker cp prints: decimal
// units, three significant digits.
func humanSizePrec(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
	size, i := float64(n), 0
	for size >= 1000 && i < len(units)-1 {
		size /= 1000
		i++
	}
	return fmt.Sprintf("%.*g%s", 3, size, units[i])
}
