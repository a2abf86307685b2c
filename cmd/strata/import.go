package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/internal/platforms"
	"github.com/strata-run/strata/layers"
	"github.com/strata-run/strata/registry"
)

type importOptions struct {
	changes  []string
	message  string
	platform string
}

// newImportCmd is docker import: a tarball of a filesystem becomes a one-layer image.
func newImportCmd(g *globals) *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Create an image from a tarball of a filesystem (plain, gzip or zstd; a file, an http(s) URL or - for stdin)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			return runImport(cmd, g, o, args[0], name)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	stringArrayVar(f, &o.changes, "change", "c", nil, "apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)")
	f.StringVarP(&o.message, "message", "m", "", "set a commit message for the imported image")
	f.StringVar(&o.platform, "platform", "", "set the image's platform (os/arch[/variant]; default this host's)")
	return cmd
}

// importMaxEntries bounds the entries of an imported tarball, as the unpack of its layer
// bounds them (layers.Options.MaxEntries). A variable for tests.
var importMaxEntries = layers.DefaultMaxEntries

// spoolTar copies the uncompressed tarball r, at most max bytes of it, into w, reading its
// headers as they go by: a stream that is no tar fails at its first header, and one of
// entries without end at importMaxEntries, as docker's import fails while it applies the
// stream. Copied whole first, the wrong file or a stdin that never ends (/dev/urandom, a
// program's output) was read up to the 64 GiB a layer may take, and as much written to the
// store, before the unpack read its first header. Every byte goes to w, what follows the tar's
// end too: the layer is the tarball as given, its DiffID that of the whole stream, as the
// unpack computes it. ctx is looked at before every read: the first Ctrl-C ends an import
// of a stream that never ends, as it ends every command.
func spoolTar(ctx context.Context, w io.Writer, r io.Reader, max int64) error {
	src := &readErr{ctx: ctx, r: &io.LimitedReader{R: r, N: max + 1}}
	cw := &countingWriter{w: w}
	tee := io.TeeReader(src, cw)
	tr := tar.NewReader(tee)
	var last string
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			switch {
			case cw.err != nil:
				return cw.err
			case src.err != nil:
				return src.err
			case cw.n > max:
				return fmt.Errorf("%w: more than %d bytes uncompressed", layers.ErrTooLarge, max)
			case last == "":
				return fmt.Errorf("reading first tar header: %w", err)
			}
			return fmt.Errorf("reading tar header after %s: %w", quotePath(last), err)
		}
		if entries >= importMaxEntries {
			return fmt.Errorf("%w: more than %d", layers.ErrTooManyEntries, importMaxEntries)
		}
		last = hdr.Name
	}
	// The rest of the last record, and whatever a writer put after the tar's end.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return err
	}
	switch {
	case cw.n == 0:
		return errors.New("the tarball is empty")
	case cw.n > max:
		return fmt.Errorf("%w: more than %d bytes uncompressed", layers.ErrTooLarge, max)
	}
	return nil
}

// readErr keeps the error its reader returned other than io.EOF: the stream's own (a
// decompression's, a network's, ctx's), which archive/tar passes on as it is.
type readErr struct {
	ctx context.Context
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return 0, err
	}
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// countingWriter counts the bytes written to w and keeps w's error.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

func runImport(cmd *cobra.Command, g *globals, o importOptions, src, name string) error {
	ctx := cmd.Context()
	ref, err := newImageRef(name)
	if err != nil {
		return err
	}
	platform := platforms.Host()
	if o.platform != "" {
		if platform, err = registry.ParsePlatform(o.platform); err != nil {
			return err
		}
	}
	var cfg v1.Config
	health, err := applyChangesHealth(&cfg, o.changes)
	if err != nil {
		return err
	}
	in, err := openImportSource(ctx, cmd.InOrStdin(), src)
	if err != nil {
		return err
	}
	// A URL's password is not said again, in a message or in the image (which goes wherever
	// it is saved or pushed); what it was fetched with is done with.
	src = redactURL(src)
	defer in.Close()
	store, err := g.openStore()
	if err != nil {
		return err
	}
	snap, err := g.openSnapshotter()
	if err != nil {
		return err
	}
	tr, err := layers.Decompress(in, "")
	if err != nil {
		return fmt.Errorf("importing %s: %w", quotePath(src), err)
	}
	defer tr.Close()
	lf, err := writeLayerFile(store, types.DockerLayer, func(w io.Writer) error {
		return spoolTar(ctx, w, tr, maxLayerSize())
	})
	if err != nil {
		return fmt.Errorf("importing %s: %w", quotePath(src), err)
	}
	defer lf.remove()
	// The tarball passes the checks of a pulled layer, or nothing is stored.
	if err := lf.unpack(ctx, snap); err != nil {
		return fmt.Errorf("importing %s: %w", quotePath(src), err)
	}
	msg := o.message
	if msg == "" {
		msg = "Imported from " + src
	}
	now := v1.Time{Time: time.Now().UTC()}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: platform.Architecture, OS: platform.OS, Variant: platform.Variant,
		OSVersion: platform.OSVersion, Created: now, Config: cfg,
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return err
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: fileLayer{lf}, History: v1.History{Created: now, Comment: msg}, MediaType: types.DockerLayer})
	if err != nil {
		return err
	}
	// A HEALTHCHECK's --start-interval, which cfg has no field for.
	if img, err = withHealthcheck(img, health); err != nil {
		return err
	}
	id, err := storeNewImage(ctx, store, snap, ref, img)
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), id.String())
	tagEvent(g, id, ref) // as docker's import tags it, before its import event
	imageEvent(g, "import", id.String(), id.String())
	return nil
}

// openImportSource opens what import reads: "-" is stdin (not a terminal), an http or https
// URL is fetched, anything else is a file.
func openImportSource(ctx context.Context, stdin io.Reader, src string) (io.ReadCloser, error) {
	if src == "-" {
		if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return nil, errors.New("requested import from stdin, but stdin is a terminal: give a file or redirect stdin")
		}
		return io.NopCloser(stdin), nil
	}
	if scheme, _, ok := strings.Cut(src, "://"); ok && !strings.ContainsAny(scheme, "/.") {
		return fetchImport(ctx, src, strings.ToLower(scheme))
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", quotePath(src), withoutPath(err))
	}
	if what := notTarball(fi.Mode()); what != "" {
		return nil, fmt.Errorf("importing %s: is %s, not a tarball", quotePath(src), what)
	}
	// As load: a FIFO opens without waiting for a writer (with none, the import reads an
	// empty tarball and says so), and a terminal holds no tarball.
	flag := os.O_RDONLY | syscall.O_NOCTTY
	if fi.Mode()&os.ModeNamedPipe != 0 {
		flag |= syscall.O_NONBLOCK
	}
	f, err := os.OpenFile(src, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", quotePath(src), withoutPath(err))
	}
	if term.IsTerminal(int(f.Fd())) {
		f.Close()
		return nil, fmt.Errorf("importing %s: is a terminal, not a tarball", quotePath(src))
	}
	// What was opened, should the name have been replaced since the stat.
	if fi, err := f.Stat(); err != nil || notTarball(fi.Mode()) != "" {
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("importing %s: %w", quotePath(src), withoutPath(err))
		}
		return nil, fmt.Errorf("importing %s: is %s, not a tarball", quotePath(src), notTarball(fi.Mode()))
	}
	return f, nil
}

// notTarball says what a path import is given is when it can hold no tarball: a directory, a
// device or a socket; "" for a regular file or a FIFO. docker's CLI opens any path and streams
// it to its daemon: a directory and a socket fail there at once, but /dev/zero (zeros end a
// tar at its first two blocks, and the daemon reads on to hash what follows) or a disk was
// read without end, and by strata up to the 64 GiB a layer may take, written to the store as
// it went. A FIFO stays a stream, as "-" is (a shell's <(...) is one).
func notTarball(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeNamedPipe != 0, m.IsRegular():
		return ""
	}
	return "no regular file"
}

// importStallLimit is how long the server of an imported URL may send nothing, before its
// headers or between two reads of its body, before the import fails as timed out: a
// registry's limit (a test lowers it).
var importStallLimit = registry.DefaultStallLimit

// fetchImport fetches an http or https URL; no other scheme is read. A server that goes
// quiet fails the import as a stalled registry fails a pull (http.DefaultClient waited for
// it forever), and its headers are bounded as a registry's.
func fetchImport(ctx context.Context, src, scheme string) (io.ReadCloser, error) {
	shown := quoteArg(redactURL(src))
	if scheme != "http" && scheme != "https" {
		return nil, fmt.Errorf("importing %s: only http and https URLs are supported", shown)
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("importing %s: not a valid URL", shown)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", shown, err)
	}
	ht := http.DefaultTransport.(*http.Transport).Clone()
	ht.MaxResponseHeaderBytes = 1 << 20 // a registry's bound; net/http reads 10 MiB
	client := &http.Client{Transport: registry.GuardStalls(ht, importStallLimit)}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", shown, wordStall(err))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("importing %s: the server answered %s", shown, resp.Status)
	}
	return stallWorded{resp.Body}, nil
}

// redactURL is src, an imported URL, with the password of its user:password@ as xxxxx, as
// net/url's Redacted writes it; src as it is when it names no password. A URL that does not
// parse has it found in what comes between its "://" and its path.
func redactURL(src string) string {
	scheme, rest, ok := strings.Cut(src, "://")
	if !ok || strings.ContainsAny(scheme, "/.") {
		return src
	}
	if u, err := url.Parse(src); err == nil && u.User != nil {
		return u.Redacted()
	}
	authority, path := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return src
	}
	user, _, hasPassword := strings.Cut(authority[:at], ":")
	if !hasPassword {
		return src
	}
	return scheme + "://" + user + ":xxxxx" + authority[at:] + path
}

// stallWorded is an imported URL's body whose stall says so.
type stallWorded struct{ io.ReadCloser }

func (b stallWorded) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	return n, wordStall(err)
}

// wordStall words a stall of the server of an imported URL; other errors are as they are.
func wordStall(err error) error {
	if limit, ok := registry.StallOf(err); ok {
		return fmt.Errorf("timed out: the server sent nothing for %s", limit)
	}
	return err
}
