package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/quote"
	"github.com/strata-run/strata/registry"
	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/snapshotter"
)

// The parts of the root, as docs/design.md lays them out.
func (g *globals) storeDir() string       { return filepath.Join(g.root, "oci") }
func (g *globals) snapshotsDir() string   { return filepath.Join(g.root, "snapshots") }
func (g *globals) containersDir() string  { return filepath.Join(g.root, "containers") }
func (g *globals) registriesFile() string { return filepath.Join(g.root, "registries.json") }

func (g *globals) openStore() (*cache.Store, error) {
	s, err := cache.Open(g.storeDir())
	if err != nil {
		return nil, fmt.Errorf("opening the image store: %w", err)
	}
	return s, nil
}

func (g *globals) openSnapshotter() (*snapshotter.Snapshotter, error) {
	opts := snapshotter.Options{Driver: snapshotter.Driver(g.storageDriver)}
	// STRATA_MAX_LAYER_SIZE (bytes) lowers the bound on a layer's uncompressed size, for sites
	// that want decompression bombs stopped early and for tests that make one.
	if v := os.Getenv("STRATA_MAX_LAYER_SIZE"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("invalid STRATA_MAX_LAYER_SIZE %q: want a positive number of bytes", v)
		}
		opts.Layer.MaxSize = n
	}
	s, err := snapshotter.New(g.snapshotsDir(), opts)
	if err != nil {
		return nil, fmt.Errorf("opening the layer store: %w", err)
	}
	return s, nil
}

// unpackedLayers opens the layer store for a command that only checks the layers unpacked
// already (a load, pull --no-unpack, save, push): nil, and nothing made, when there is none
// yet. Any other failure to look (a symlink loop, a root it may not search, an I/O error) is
// an error: taken for "none", it checked nothing against layers that are there.
func (g *globals) unpackedLayers() (*snapshotter.Snapshotter, error) {
	if _, err := os.Stat(g.snapshotsDir()); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("opening the layer store: %w", err)
	}
	return g.openSnapshotter()
}

func (g *globals) openContainers() (*runner.Store, error) {
	// runner's error says "opening container store" already.
	s, err := runner.OpenStore(g.containersDir())
	if err != nil {
		return nil, err
	}
	// A container's root stacks only these layer dirs: one edited to name a host dir is
	// refused where it would be mounted or read.
	s.SetLayerDir(g.snapshotsDir())
	return s, nil
}

// getContainer opens the container store and finds the container arg names (name, ID or ID
// prefix).
func (g *globals) getContainer(arg string) (*runner.Store, *runner.Container, error) {
	store, err := g.openContainers()
	if err != nil {
		return nil, nil, err
	}
	c, err := findContainer(store, arg)
	if err != nil {
		return nil, nil, err
	}
	return store, c, nil
}

// findContainer finds the container arg names, as store.Get does. An arg that would not read
// back in the error as typed (empty, blank, with spaces, control characters or bytes that are
// not UTF-8, or long) is quoted there: "   : no such container" told nothing.
func findContainer(store *runner.Store, arg string) (*runner.Container, error) {
	c, err := store.Get(arg)
	if err != nil && errors.Is(err, runner.ErrNotFound) && !plainArg(arg) {
		return nil, fmt.Errorf("%s: %w", quoteArg(arg), runner.ErrNotFound)
	}
	return c, err
}

// maxQuoted is how much of an argument an error quotes back, in bytes.
const maxQuoted = quote.MaxValue

// plainArg says whether s reads back as typed when an error names it bare: not empty, at most
// maxQuoted bytes of printable UTF-8 without spaces.
func plainArg(s string) bool {
	return s != "" && len(s) <= maxQuoted && printableWord(s)
}

// printableWord says whether s is UTF-8 without spaces or runes that act on a terminal.
func printableWord(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unprintable(r) })
}

// quoteArg is s as an error names what the user typed: bare when plainArg, else quoted with
// Go escapes, and cut to maxQuoted bytes with its length told.
func quoteArg(s string) string {
	if plainArg(s) {
		return s
	}
	return quoteValue(s)
}

// quoteValue is s quoted with Go escapes, as %q writes it, cut to maxQuoted bytes with its
// length told: what an error quotes back from a flag or an argument stays short.
func quoteValue(s string) string {
	return quote.Value(s)
}

// maxQuotedPath is how much of a path an error names, in bytes: more than of another value,
// as the whole of a usual path says where.
const maxQuotedPath = 256

// quotePath is the path p as an error names it: bare when it is printable, without spaces
// and at most maxQuotedPath bytes, else quoted and cut there ("loading    : stat    : …"
// named a path of three spaces).
func quotePath(p string) string {
	if p != "" && len(p) <= maxQuotedPath && printableWord(p) {
		return p
	}
	return quote.Cut(p, maxQuotedPath)
}

// withoutPath is err without the path an *fs.PathError repeats: the caller names it once.
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// registryOptions are the registry settings every command that talks to a registry shares.
func (g *globals) registryOptions() registry.Options {
	return registry.Options{
		Mirrors:            g.mirrors,
		Insecure:           g.insecure,
		InsecureRegistries: g.insecureRegistries,
		ConfigPath:         g.registriesFile(),
		UserAgent:          "strata/" + version,
		Warn:               warnRegistry,
	}
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"
