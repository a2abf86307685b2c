package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/spf13/cobra"
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
			return runSave(cmd, g, o, args)
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
		r, err := findRef(store, a)
		if err != nil {
			return err
		}
		// An image named twice (or by its name and its ID) is written once, as docker does:
		// twice, its load printed it twice.
		if slices.ContainsFunc(refs, func(x cache.Ref) bool {
			return x.Name == r.Name && x.Descriptor.Digest == r.Descriptor.Digest
		}) {
			continue
		}
		refs = append(refs, r)
	}
	ctx := cmd.Context()
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

// findRef finds a stored image by the user's words, as the image commands do: a reference
// ("alpine" is docker.io/library/alpine:latest) or an ID prefix. It does not open the image,
// so a ref naming a multi-platform index is found too.
func findRef(store *cache.Store, arg string) (cache.Ref, error) {
	name := arg
	if ref, err := registry.ParseReference(arg); err == nil {
		name = ref.String()
	}
	r, err := store.FindImage(name)
	if errors.Is(err, cache.ErrNotFound) && name != arg {
		r, err = store.FindImage(arg)
	}
	if errors.Is(err, cache.ErrNotFound) {
		if _, perr := registry.ParseReference(arg); perr != nil || !plainArg(arg) {
			// Nothing to pull by that name: the hint would be another error.
			return cache.Ref{}, fmt.Errorf("image %s is not in the store", quoteArg(arg))
		}
		return cache.Ref{}, fmt.Errorf("image %s is not in the store: run 'strata pull %s' first", arg, arg)
	}
	return r, err
}

// writeFileAtomic writes path through fn into a temp file beside it and renames it into place
// only when fn succeeded, so an interrupted save leaves no half archive under the name.
// A directory is refused, and a device or FIFO (/dev/null, a named pipe to another program)
// is written in place: renaming over it would replace /dev/null with a file.
//
// The directory may be another user's, who can rename the temp file away and put a symlink
// under its name while the archive is written: the file's mode is set through its
// descriptor, never its name (a chmod by name made a host file world-readable), and a name
// that no longer leads to the file written fails the save.
func writeFileAtomic(path string, fn func(io.Writer) error) (err error) {
	switch fi, serr := os.Stat(path); {
	case serr != nil:
	case fi.IsDir():
		return fmt.Errorf("writing %s: is a directory", quotePath(path))
	case !fi.Mode().IsRegular():
		return writeSpecial(path, fi, fn)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		// The temp file's random name is no name the user gave: say why path cannot be made.
		return fmt.Errorf("creating %s: %w", quotePath(path), withoutPath(err))
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.Remove(f.Name()))
		}
	}()
	err = fn(f)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = sameFile(f, f.Name())
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", quotePath(path), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", quotePath(path), err)
	}
	return nil
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

// writeSpecial writes through fn straight into the existing device or FIFO at path, which
// stat found as fi. A FIFO is opened without waiting for a reader: with none, the save fails
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
	err = fn(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", quotePath(path), err)
	}
	return nil
}
