package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-run/strata/archive"
	"github.com/strata-run/strata/internal/platforms"
	"github.com/strata-run/strata/internal/quote"
	"github.com/strata-run/strata/registry"
)

type loadOptions struct {
	input    string
	quiet    bool
	platform string
	name     string
}

func newLoadCmd(g *globals) *cobra.Command {
	var o loadOptions
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from an archive or OCI layout directory (docker save, podman save, skopeo, strata save)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLoad(cmd, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.input, "input", "i", "", "read from this archive (plain or gzip, zstd, bzip2 compressed) or OCI layout directory instead of stdin")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "show no progress, only the images loaded (as docker load -q)")
	f.StringVar(&o.platform, "platform", "", "load only this os/arch[/variant] of a multi-platform image (default: the whole index when the archive holds every platform, else this host's)")
	f.StringVar(&o.name, "name", "", "reference for an image the archive leaves unnamed")
	return cmd
}

func runLoad(cmd *cobra.Command, g *globals, o loadOptions) error {
	var opts archive.LoadOptions
	if o.platform != "" {
		p, err := registry.ParsePlatform(o.platform)
		if err != nil {
			return err // ParsePlatform names the value and the form it wants
		}
		opts.Platform = p
	}
	if o.name != "" {
		if _, err := registry.ParseReference(o.name); err != nil {
			return err
		}
		opts.Name = o.name
	}
	if !o.quiet {
		opts.Progress = loadProgress(cmd.ErrOrStderr())
	}
	store, err := g.openStore()
	if err != nil {
		return err
	}
	// A layer the archive names whose DiffID is unpacked here already is checked to be that
	// layer, as pull checks one: runs use the layer dir here, not the archive's blob. No
	// layer store yet, no layer unpacked: nothing to open.
	if snap, err := g.unpackedLayers(); err != nil {
		return err
	} else if snap != nil {
		opts.Unpacked, opts.CheckLayer, opts.Proven = snap.Has, unpackInto(snap), provenBy(snap)
	}
	ctx := cmd.Context()
	var loaded []archive.Loaded
	switch fi, serr := os.Stat(o.input); {
	case o.input == "" || o.input == "-":
		in := cmd.InOrStdin()
		if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return errors.New("requested load from stdin, but stdin is a terminal: use -i FILE or redirect stdin")
		}
		loaded, err = archive.Load(ctx, store, in, opts)
	case serr != nil:
		return fmt.Errorf("loading %s: %w", quotePath(o.input), withoutPath(serr))
	case fi.IsDir():
		loaded, err = archive.LoadDir(ctx, store, o.input, opts)
	default:
		// A FIFO opens without waiting for a writer: with none, the load reads an empty
		// archive and says so instead of hanging in open(2), where no signal reaches it.
		// O_NOCTTY: a terminal named here must not become strata's controlling terminal.
		flag := os.O_RDONLY | syscall.O_NOCTTY
		if fi.Mode()&os.ModeNamedPipe != 0 {
			flag |= syscall.O_NONBLOCK
		}
		f, oerr := os.OpenFile(o.input, flag, 0)
		if oerr != nil {
			return fmt.Errorf("loading %s: %w", quotePath(o.input), withoutPath(oerr))
		}
		defer f.Close()
		// As from stdin: a terminal (-i /dev/tty) holds no archive, and reading one waits
		// for typing.
		if term.IsTerminal(int(f.Fd())) {
			return fmt.Errorf("loading %s: is a terminal, not an archive", quotePath(o.input))
		}
		loaded, err = archive.Load(ctx, store, f, opts)
		if err != nil {
			err = fmt.Errorf("%s: %w", quotePath(o.input), err)
		}
	}
	if err != nil {
		return err
	}
	warnLoadPlatforms(cmd.ErrOrStderr(), loaded, opts.Platform)
	warnLoadIgnoredNames(cmd.ErrOrStderr(), loaded)
	// -q drops the progress only: docker load -q and podman load -q still print what they
	// loaded, and scripts read the name from that line.
	out := cmd.OutOrStdout()
	for _, l := range loaded {
		evName := l.ID.String()
		if l.Ref != "" {
			evName = familiarRef(l.Ref)
		}
		imageEvent(g, "load", l.ID.String(), evName)
		if l.Ref == "" {
			// As docker load: an image the archive does not name is stored dangling, told by ID.
			fmt.Fprintf(out, "Loaded image ID: %s\n", l.ID)
			continue
		}
		name := l.Ref
		if ref, err := registry.ParseReference(l.Ref); err == nil {
			name = ref.Familiar()
		}
		if l.Replaced.Hex != "" {
			// As docker load: the name now names another image than it did, which is
			// dangling or garbage unless another name keeps it.
			fmt.Fprintf(out, "The image %s already exists, renaming the old one with ID %s to empty string\n", escapeUnprintable(name), l.Replaced)
		}
		fmt.Fprintf(out, "Loaded image: %s\n", escapeUnprintable(name))
	}
	return nil
}

// loadProgress prints, on a terminal only, a line per large entry read and per blob stored,
// so a long load shows it is moving; a log or a pipe gets just the "Loaded image" lines.
func loadProgress(w io.Writer) func(archive.Event) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(e archive.Event) {
		if line := loadProgressLine(e); line != "" {
			fmt.Fprintln(w, line)
		}
	}
}

// loadProgressLine is what loadProgress prints for e, or "". An entry's name is the
// archive's: its escape sequences are shown, not run on the user's terminal.
func loadProgressLine(e archive.Event) string {
	switch {
	case e.Kind == archive.Read && e.Size >= 1<<20:
		return fmt.Sprintf("Reading %s (%s)", escapeUnprintable(e.Name), humanSize(e.Size))
	case e.Kind == archive.Stored:
		return fmt.Sprintf("Stored %s (%s)", shortID(e.Digest.String()), humanSize(e.Size))
	}
	return ""
}

// warnLoadPlatforms warns, one line per image, of a single-platform image the archive holds
// for another platform than want (asked for with --platform), or this host's when want is
// zero, as pull warns of one (warnPlatform): it is loaded as it is, as docker and podman
// load it, and run would fail with "exec format error" where no emulator is installed.
// load --platform P of such an archive said nothing.
func warnLoadPlatforms(w io.Writer, loaded []archive.Loaded, want v1.Platform) {
	whose := "the requested " + want.String()
	if want.OS == "" {
		want = registry.DefaultPlatform()
		whose = "this host's (" + want.String() + ")"
	}
	warned := map[v1.Hash]bool{}
	for _, l := range loaded {
		if l.Platform == nil || platforms.Matches(want, *l.Platform) || warned[l.ID] {
			continue
		}
		warned[l.ID] = true // an image of several names is warned of once
		name := l.Ref
		if name == "" {
			name = l.ID.String()
		} else if ref, err := registry.ParseReference(l.Ref); err == nil {
			name = ref.Familiar()
		}
		fmt.Fprintln(w, oneLine(fmt.Sprintf("strata: warning: the platform of image %s (%s) does not match %s: a single-platform image is loaded as it is", name, l.Platform.String(), whose)))
	}
}

// warnLoadIgnoredNames warns, one line per name, of a name the archive's index.json gives an
// image that the load did not store it under ("sha256:<hex>", which reads as an image ID):
// the image is loaded all the same, as docker's containerd store loads it.
func warnLoadIgnoredNames(w io.Writer, loaded []archive.Loaded) {
	warned := map[v1.Hash]bool{}
	for _, l := range loaded {
		if len(l.Ignored) == 0 || warned[l.Manifest.Digest] {
			continue
		}
		warned[l.Manifest.Digest] = true // an image of several names is warned of once
		for _, ig := range l.Ignored {
			fmt.Fprintln(w, oneLine(fmt.Sprintf("strata: warning: image %s: ignoring the name %s the archive gives it: %v", shortID(l.ID.String()), quote.Cut(ig.Name, 300), ig.Reason)))
		}
	}
}
