package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/platforms"
	"github.com/strata-run/strata/internal/progress"
	"github.com/strata-run/strata/registry"
	"github.com/strata-run/strata/snapshotter"
)

type pullOptions struct {
	platform    string
	concurrency int
	progress    string
	quiet       bool
	offline     bool
	noUnpack    bool
	// allPlatforms stores the whole index, every platform; only this host's is unpacked.
	allPlatforms bool
}

func newPullCmd(g *globals) *cobra.Command {
	var o pullOptions
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image and unpack its layers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := runPull(cmd.Context(), g, o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr()); err != nil {
				return err
			}
			refEvent(g, "pull", args[0])
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.platform, "platform", "", "os/arch[/variant] to pull (default: this host's)")
	f.BoolVar(&o.allPlatforms, "all-platforms", false, "pull every platform of a multi-platform image (for save or push to other architectures); unpack only this host's")
	f.IntVar(&o.concurrency, "max-concurrent-downloads", 3, "layers downloaded at once")
	f.StringVar(&o.progress, "progress", "auto", "progress output: auto, tty, plain, or json (stdout is then JSON lines only: one per layer event, and a last one {\"status\":\"downloaded\" or \"up-to-date\",\"ref\",\"digest\"})")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only the image reference")
	f.BoolVar(&o.noUnpack, "no-unpack", false, "store the blobs only (for a mirror or archive); run unpacks on first use")
	addContentTrustFlag(cmd)
	f.BoolVar(&o.offline, "offline", false, "never touch the network: succeed only if the image is in the store (env STRATA_OFFLINE=1, true or yes)")
	return cmd
}

func runPull(ctx context.Context, g *globals, o pullOptions, arg string, out, errOut io.Writer) error {
	ref, err := registry.ParseReference(arg)
	if err != nil {
		return err
	}
	// As docker: a reference with a digest is pulled and recorded by the digest alone. Its tag
	// is not checked against the registry, so recording it would make a tag row that another
	// image's pull of the same tag duplicates ("alpine latest" twice in images).
	ref = ref.ByDigest()
	// A name the store would refuse once the image is downloaded ("sha256:x" reads as an
	// image ID) is refused before the network or the store is asked.
	if err := cache.CheckRef(ref.String()); err != nil {
		return fmt.Errorf("%w: %s", err, quoteArg(arg))
	}
	envOffline, err := offlineEnv()
	if err != nil {
		return err
	}
	// The flags are checked before --offline is: a typo must not pass because the image
	// happens to be in the store.
	if o.allPlatforms && o.platform != "" {
		return errors.New("--platform and --all-platforms exclude each other")
	}
	opts := g.registryOptions()
	if o.platform != "" {
		p, err := registry.ParsePlatform(o.platform)
		if err != nil {
			return err
		}
		opts.Platform = p
	}
	if o.concurrency < 1 {
		return fmt.Errorf("--max-concurrent-downloads must be at least 1, not %d", o.concurrency)
	}
	if err := progress.CheckMode(o.progress); err != nil {
		return err
	}
	if o.offline || envOffline {
		want := opts.Platform
		if want.OS == "" {
			want = registry.DefaultPlatform()
		}
		return pullOffline(g, ref, want, o.quiet, o.progress == progress.JSON, o.allPlatforms, out)
	}
	store, err := g.openStore()
	if err != nil {
		return err
	}
	// With --no-unpack the store gets the blobs only (a cache that `strata serve` serves, or
	// `save` archives); `run` unpacks the layers on first use.
	var snap *snapshotter.Snapshotter
	if !o.noUnpack {
		if snap, err = g.openSnapshotter(); err != nil {
			return err
		}
		warnSnapshotter(snap)
	}
	puller, err := registry.NewPuller(opts)
	if err != nil {
		return err
	}
	mode := o.progress
	if o.quiet {
		mode = "quiet"
	}
	// With --progress=json stdout is JSON lines only, for scripts: the layer events, then
	// the summary pullSummary writes in place of the Digest and Status lines.
	jsonOut := !o.quiet && mode == progress.JSON
	// As docker's: the tag, or the digest of a pull by digest, then the repository; printed
	// once the registry has resolved the reference, as docker's puller prints it, so that a
	// tag that is not there or a pull refused prints the error alone.
	header := func() {
		if o.quiet || jsonOut {
			return
		}
		switch {
		case ref.Digest() != "":
			fmt.Fprintf(out, "%s: Pulling from %s\n", ref.Digest(), ref.Repository())
		case ref.Tag() != "":
			fmt.Fprintf(out, "%s: Pulling from %s\n", ref.Tag(), ref.Repository())
		default:
			fmt.Fprintf(out, "Pulling %s\n", ref.Familiar())
		}
	}
	platform := opts.Platform
	if platform.OS == "" {
		platform = registry.DefaultPlatform()
	}
	if root, ok, err := upToDate(ctx, puller, store, snap, ref, platform, o.allPlatforms); err != nil {
		if ctx.Err() != nil {
			// Said as the download's interruption is, not as net/http's `Get "URL": …`.
			return fmt.Errorf("pulling %s: interrupted: %w", ref.Familiar(), context.Cause(ctx))
		}
		return pullError(ref, err)
	} else if ok {
		header()
		return pullSummary(out, ref, root.String(), false, o.quiet, jsonOut)
	}
	bar := progress.New(out, mode)
	wo := cache.WriteOptions{
		Concurrency: o.concurrency,
		Progress:    bar.Event,
		Platform:    platform,
	}
	switch {
	case snap != nil:
		wo.Layer = unpackInto(snap)
		wo.NeedLayer = func(d v1.Hash) bool { return !snap.Has(d) }
		wo.Proven = provenBy(snap)
	case o.noUnpack:
		// Unpacking nothing, the pull still checks a layer unpacked here already to be the
		// blob named for it: run would use that layer dir, not the blob. Any other is left
		// unread (Layer returns at once), for run to check when it unpacks it.
		if here, err := g.unpackedLayers(); err != nil {
			return err
		} else if here != nil {
			wo.Layer, wo.NeedLayer = checkUnpacked(here), func(v1.Hash) bool { return false }
			wo.Proven = provenBy(here)
		}
	}
	res, root, pulled, err := pullInto(ctx, puller, store, ref, o.allPlatforms, wo, header)
	bar.Close()
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("pulling %s: interrupted; the next pull resumes where this one stopped: %w", ref.Familiar(), context.Cause(ctx))
	}
	if err != nil {
		return pullError(ref, err)
	}
	warnPlatform(errOut, pulled, platform, o.platform != "")
	// Docker prints the digest the tag points at (the index for a multi-platform image): the
	// one `pull NAME@DIGEST` takes on any platform.
	return pullSummary(out, ref, root.String(), res.Downloaded || res.Updated, o.quiet, jsonOut)
}

// pullJSONSummary is the last line of `pull --progress=json`: what the Digest and Status
// lines and the reference say in text. Its field names are stable: scripts parse them.
type pullJSONSummary struct {
	// Status is "downloaded" (docker's "Downloaded newer image") or "up-to-date".
	Status string `json:"status"`
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
}

// pullSummary ends a pull that succeeded: the reference alone with quiet, one JSON object
// with jsonOut, else docker's Digest and Status lines and the reference.
func pullSummary(out io.Writer, ref registry.Reference, digest string, downloaded, quiet, jsonOut bool) error {
	switch {
	case quiet:
	case jsonOut:
		s := pullJSONSummary{Status: "up-to-date", Ref: ref.String(), Digest: digest}
		if downloaded {
			s.Status = "downloaded"
		}
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	case downloaded:
		fmt.Fprintf(out, "Digest: %s\nStatus: Downloaded newer image for %s\n", digest, ref.Familiar())
	default:
		fmt.Fprintf(out, "Digest: %s\nStatus: Image is up to date for %s\n", digest, ref.Familiar())
	}
	_, err := fmt.Fprintln(out, ref.String())
	return err
}

// pullInto resolves ref and writes it to store: the image for wo.Platform, or with
// allPlatforms the whole index (a single-platform image is pulled as it is, as docker does).
// It returns the digest the reference points at, which `Digest:` prints, and the platform of
// the image pulled when only its config says it (a single-platform image), else nil.
// resolved is called once the registry has answered for ref, before anything is downloaded.
func pullInto(ctx context.Context, puller *registry.Puller, store *cache.Store, ref registry.Reference, allPlatforms bool, wo cache.WriteOptions, resolved func()) (cache.WriteResult, v1.Hash, *v1.Platform, error) {
	if allPlatforms {
		idx, err := puller.Index(ctx, ref)
		if err == nil {
			resolved()
			wo.Fetch = idx.FetchBlob
			wo.Annotations = pulledFrom(idx.Descriptor.Digest, allPlatformsValue)
			res, err := store.WriteIndex(ctx, ref.String(), idx, wo)
			return res, idx.Descriptor.Digest, nil, err
		}
		if !errors.Is(err, registry.ErrNotIndex) {
			return cache.WriteResult{}, v1.Hash{}, nil, err
		}
	}
	img, err := puller.Image(ctx, ref)
	if err != nil {
		return cache.WriteResult{}, v1.Hash{}, nil, err
	}
	resolved()
	wo.Fetch = img.FetchBlob
	wo.Annotations = pulledFrom(img.Root.Digest, wo.Platform.String())
	res, err := store.WriteImage(ctx, ref.String(), img, wo)
	var single *v1.Platform
	if !img.Root.MediaType.IsIndex() {
		single = img.Descriptor.Platform
	}
	return res, img.Root.Digest, single, err
}

// warnPlatform warns, in one line on w, of a single-platform image whose config names
// another platform than want (asked for with --platform when explicit, else this host's): it
// is pulled as it is, as docker and podman pull it, and podman warns so; run would fail with
// "exec format error" where no emulator is installed.
func warnPlatform(w io.Writer, have *v1.Platform, want v1.Platform, explicit bool) {
	if have == nil || have.OS == "" || platforms.Matches(want, *have) {
		return
	}
	whose := "this host's (" + want.String() + ")"
	if explicit {
		whose = "the requested " + want.String()
	}
	fmt.Fprintln(w, oneLine(fmt.Sprintf("strata: warning: the image's platform (%s) does not match %s: a single-platform image is pulled as it is", have.String(), whose)))
}

// pullError words a failed pull as one line that names ref once. The registry's messages about
// the image itself name it already, as docker's do ("manifest for X not found", "no matching
// manifest for linux/s390x in the manifest list of X"); the others (the network, the registry,
// the store) get "pulling X: " in front. Deciding on the message is for wording only: callers
// still branch with errors.Is on the wrapped sentinels.
func pullError(ref registry.Reference, err error) error {
	msg := err.Error()
	names := func(m string) bool { return strings.Contains(m, ref.String()) || strings.Contains(m, ref.Familiar()) }
	if names(msg) {
		// The registry's words, when they name the image, say what failed; the store's
		// around them on the way ("writing image: manifest D: reading: manifest D of X not
		// found") said the manifest twice, and began with neither the image nor the failure.
		var re *registry.Error
		if errors.As(err, &re) && re.Msg != msg && names(re.Msg) {
			return &reworded{msg: re.Msg, err: err}
		}
		return err
	}
	// The registry's own "pulling REPOSITORY: …" (a redirect loop, a bad realm) names the
	// image as the user did instead: not "pulling X:latest: pulling X: …".
	if rest, ok := strings.CutPrefix(msg, "pulling "+ref.Name()+": "); ok {
		return &reworded{msg: "pulling " + ref.Familiar() + ": " + rest, err: err}
	}
	return fmt.Errorf("pulling %s: %w", ref.Familiar(), err)
}

// reworded is err said otherwise, still matching what err matches.
type reworded struct {
	msg string
	err error
}

func (e *reworded) Error() string { return e.msg }
func (e *reworded) Unwrap() error { return e.err }

// runnableOffline reports whether the image with manifest digest m can run from the store
// alone: its config is stored and each layer's blob is stored (run unpacks it, or hashes it
// against the layer dir) or the layer is unpacked from that blob (proven: see snap.Ensure).
func runnableOffline(g *globals, store *cache.Store, m v1.Hash) bool {
	snap, _ := g.openSnapshotter()
	return eachLayerHeld(store, m, func(blob v1.Descriptor, diffID v1.Hash) bool {
		return store.Has(blob) || snap != nil && snap.Has(diffID) && snap.Proven(diffID, blob.Digest)
	})
}

// unpackInto hands each layer's stream, as it downloads, to the snapshotter, which records
// the blob as proven to be the layer once it is (see snapshotter.Ensure): streams a LayerFunc
// gets end only once the blob's digest is verified.
func unpackInto(snap *snapshotter.Snapshotter) cache.LayerFunc {
	return func(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error {
		return snap.UnpackBlob(ctx, diffID, desc, r)
	}
}

// checkUnpacked is the LayerFunc of a command that stores layers without unpacking them
// (pull --no-unpack, serve --pull-through): a layer unpacked here already is checked to be
// the blob (Unpack hashes it against the DiffID), as run would use that layer dir; any other
// is left unread, for run to check when it unpacks it.
func checkUnpacked(snap *snapshotter.Snapshotter) cache.LayerFunc {
	unpack := unpackInto(snap)
	return func(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error {
		if !snap.Has(diffID) {
			return nil
		}
		return unpack(ctx, desc, diffID, r)
	}
}

// warnRegistry prints a warning of the registry package (a config.json it could not use, so
// the command goes on without credentials, as docker's "WARNING: Error loading config file").
func warnRegistry(w string) {
	fmt.Fprintln(os.Stderr, "strata: warning: "+oneLine(w))
}

// warnSnapshotter prints the one-line warning when overlay was refused and vfs is used.
func warnSnapshotter(snap *snapshotter.Snapshotter) {
	if w := snap.Warning(); w != "" {
		fmt.Fprintln(os.Stderr, "strata: warning: "+oneLine(w))
	}
}

// pullOffline is pull with --offline or STRATA_OFFLINE=1: the store answers, the network is
// never touched (docs/air-gapped.md). As the pull it stands for, it is satisfied by the image
// for platform only: one stored from an index for another platform, or a stored index without
// it, would be replaced or refused by that pull, not taken as up to date.
func pullOffline(g *globals, ref registry.Reference, platform v1.Platform, quiet, jsonOut, allPlatforms bool, out io.Writer) error {
	store, err := g.openStore()
	if err != nil {
		return err
	}
	desc, err := store.Resolve(ref.String())
	if errors.Is(err, cache.ErrNotFound) && ref.Digest() != "" {
		// A pull by digest is satisfied by the same image pulled by tag: one of the
		// repository's whose repo digest it is (the index it was pulled from, as pull printed
		// it, or its manifest), as run finds it, or any holding that very manifest.
		if r, ferr := findByRepoDigest(store, ref.String()); ferr == nil {
			desc, err = r.Descriptor, nil
		} else if r, ferr := store.FindImage(ref.Digest()); ferr == nil && r.Descriptor.Digest.String() == ref.Digest() {
			desc, err = r.Descriptor, nil
		}
	}
	if errors.Is(err, cache.ErrNotFound) {
		return fmt.Errorf("pulling %s: not in the store, and --offline (or STRATA_OFFLINE=1) forbids the network: bring it with 'strata load'", ref.Familiar())
	}
	if err != nil {
		return pullError(ref, err)
	}
	if root := desc.Annotations[rootDigestAnnotation]; allPlatforms && !desc.MediaType.IsIndex() && root != "" && root != desc.Digest.String() {
		return fmt.Errorf("pulling %s: the store holds one platform of it, and --offline (or STRATA_OFFLINE=1) forbids the network: bring every platform with 'strata load'", ref.Familiar())
	}
	if root := desc.Annotations[rootDigestAnnotation]; !allPlatforms && !desc.MediaType.IsIndex() && root != "" && root != desc.Digest.String() {
		// Chosen from an index for the platform its annotation names.
		if have, err := registry.ParsePlatform(desc.Annotations[platformAnnotation]); err == nil && !platforms.Matches(platform, have) {
			return fmt.Errorf("pulling %s: the store holds it for %s, not %s, and --offline (or STRATA_OFFLINE=1) forbids the network: bring it with 'strata load'", ref.Familiar(), have, platform)
		}
	}
	manifest := desc.Digest
	if desc.MediaType.IsIndex() && !allPlatforms {
		img, err := store.ImageFor(cache.Ref{Name: ref.String(), Descriptor: desc}, platform)
		if err != nil {
			return fmt.Errorf("pulling %s: %w, and --offline (or STRATA_OFFLINE=1) forbids the network", ref.Familiar(), err)
		}
		manifest = img.Digest
	}
	// Up to date only if a run needs nothing more: a blob lost from the store (a disk
	// repaired, a hand cleanup) made the offline pull say so and the run fail after it.
	whole := allPlatforms && desc.MediaType.IsIndex()
	if whole && !store.Complete(desc) || !whole && !runnableOffline(g, store, manifest) {
		return fmt.Errorf("pulling %s: the store lacks some of its blobs, and --offline (or STRATA_OFFLINE=1) forbids the network: bring it again with 'strata load'", ref.Familiar())
	}
	digest := desc.Digest.String()
	if root := desc.Annotations[rootDigestAnnotation]; root != "" {
		digest = root
	}
	return pullSummary(out, ref, digest, false, quiet, jsonOut)
}
