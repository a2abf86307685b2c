package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/quote"
	"github.com/strata-run/strata/registry"
	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/snapshotter"
)

// newSystemCmd is docker's `system` group: df, prune (containers and images), info, events.
func newSystemCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Manage strata: disk usage (df), prune, info, events",
		Args:  noArgs,
	}
	cmd.AddCommand(newSystemDfCmd(g), newSystemPruneCmd(g), newInfoCmd(g), newEventsCmd(g))
	return cmd
}

func newSystemDfCmd(g *globals) *cobra.Command {
	var verbose bool
	var format string
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show disk usage: images, the layers they share, containers, and what removing each frees",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			template := format != "" && format != "json" && !tableDefault(format)
			if template && !strings.Contains(format, "{{") {
				// A template that names no field prints its text once per row: "yaml" is
				// a mistake, not a wish for four lines of it.
				return fmt.Errorf("invalid --format %s: want json, or a Go template such as '{{.Type}} {{.Size}}'", quoteValue(format))
			}
			if template && verbose {
				return fmt.Errorf("invalid --format %s with -v: a template formats the summary's rows; -v takes --format json", quoteValue(format))
			}
			u, err := diskUsage(cmd.Context(), g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			switch {
			case format == "json" && !verbose:
				// docker's: {{json .}} of each summary row, one a line.
				return printTemplate(cmd.OutOrStdout(), "{{json .}}", dfRows(u.Summary))
			case format == "json":
				// The whole report, one document, as docker's -v --format json is one.
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(u)
			case template:
				return printTemplate(cmd.OutOrStdout(), format, dfRows(u.Summary))
			}
			return printDiskUsage(cmd.OutOrStdout(), u, verbose)
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show every image, layer and container")
	cmd.Flags().StringVar(&format, "format", "", "json (docker's: one object per summary row; with -v the whole report as one document), or a Go template over the summary's rows, as docker's: '{{.Type}} {{.Size}}'")
	return cmd
}

// usage is the report of `system df`; -v --format json prints it as is.
type usage struct {
	Summary    []usageRow       `json:"summary"`
	Images     []imageUsage     `json:"images"`
	Layers     []layerUsage     `json:"layers"`
	Containers []containerUsage `json:"containers"`
	Volumes    []volumeUsage    `json:"volumes"`
	Totals     usageTotals      `json:"totals"`
	// byImage is -v's table: one row per image as docker's has, named by its first name,
	// with what it shares with other images and what only it uses.
	byImage []imageUsage
}

// usageRow is one line of docker's summary table.
type usageRow struct {
	Type        string `json:"type"`
	Total       int    `json:"total"`
	Active      int    `json:"active"`
	Size        int64  `json:"size"`
	Reclaimable int64  `json:"reclaimable"`
}

// dfRow is one row of the summary as a --format template sees it, with docker's placeholders
// and values: TotalCount, Active, Size and Reclaimable are strings, as docker prints them
// ("9.97MB", "7.44MB (74%)"), so templates written for docker's system df work.
type dfRow struct {
	Type        string
	TotalCount  string
	Active      string
	Size        string
	Reclaimable string
}

func (dfRow) headers() map[string]string { return map[string]string{"TotalCount": "TOTAL"} }

// MarshalJSON is system df --format json's line: docker's {{json .}} of its summary row
// (docker/cli cli/command/formatter/disk_usage.go through formatter.MarshalJSON), keys sorted.
func (r dfRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"Active": r.Active, "Reclaimable": r.Reclaimable,
		"Size": r.Size, "TotalCount": r.TotalCount, "Type": r.Type})
}

func dfRows(summary []usageRow) []dfRow {
	rows := make([]dfRow, 0, len(summary))
	for _, r := range summary {
		rows = append(rows, dfRow{Type: r.Type, TotalCount: fmt.Sprint(r.Total), Active: fmt.Sprint(r.Active),
			Size: dfSize(r.Size), Reclaimable: reclaimable(r.Reclaimable, r.Size)})
	}
	return rows
}

// imageUsage is one named image. Size counts its layer dirs and its blobs (manifest, config,
// compressed layers); Unique is what `strata rmi` of this ref alone frees: what no other ref
// and no container uses. Shared is the rest of Size.
type imageUsage struct {
	Ref string `json:"ref"`
	ID  string `json:"id"`
	// Damaged says why the image could not be read whole; its sizes count what is there.
	Damaged string `json:"damaged,omitempty"`
	// Created is when the image was built, from its config; zero if unknown.
	Created    time.Time `json:"created"`
	Size       int64     `json:"size"`
	Shared     int64     `json:"shared"`
	Unique     int64     `json:"unique"`
	Containers int       `json:"containers"`
}

// layerUsage is one layer dir, with the compressed blobs it was unpacked from.
type layerUsage struct {
	DiffID     string `json:"diffID"`
	Compressed int64  `json:"compressed"`
	Unpacked   int64  `json:"unpacked"`
	// Images is how many images list the layer (an image of several names once);
	// Containers how many container roots are made of it.
	Images     int `json:"images"`
	Containers int `json:"containers"`
}

// containerUsage is one container's writable layer (overlay upper, or the vfs copy).
type containerUsage struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Image  string `json:"image"`
	Status string `json:"status"`
	Size   int64  `json:"size"`
}

// usageTotals sums every layer dir and blob once: used by one image (unique), by several
// (shared), by no image but by containers (their images removed with rmi -f, their roots
// still made of them), or by nothing (unused: what `strata prune` removes). The four add up
// to Total.
type usageTotals struct {
	Layers     int   `json:"layers"`
	Unpacked   int64 `json:"unpacked"`
	Blobs      int   `json:"blobs"`
	Compressed int64 `json:"compressed"`
	Unique     int64 `json:"unique"`
	Shared     int64 `json:"shared"`
	Containers int64 `json:"containers"`
	Unused     int64 `json:"unused"`
	Total      int64 `json:"total"`

	// LayerBlobs are the blobs of Blobs some image names as a layer, what the layer dirs
	// are unpacked from; the others are manifests, indexes, configs, and blobs no image names.
	LayerBlobs      int   `json:"layerBlobs"`
	LayerCompressed int64 `json:"layerCompressed"`
}

// object is one thing on disk an image may hold: a blob or a layer dir. Sizes are counted per
// object, so a layer shared by ten images is counted once in every total.
type object struct {
	size   int64
	refs   map[string]bool // named images that use it
	pinned bool            // a container's root is made of it: no image removal frees it
	active bool            // used by an image some container was created from
}

// diskUsage measures the store, the layer dirs and the containers.
func diskUsage(ctx context.Context, g *globals, warn io.Writer) (_ usage, err error) {
	// Empty lists, not null, in JSON.
	u := usage{Images: []imageUsage{}, Layers: []layerUsage{}, Containers: []containerUsage{}}
	store, err := g.openStore()
	if err != nil {
		return u, err
	}
	// Held shared, as pulls hold it: a prune waits, so no layer dir or blob vanishes
	// between being listed and being measured.
	release, err := store.Hold(ctx)
	if err != nil {
		return u, err
	}
	defer func() { err = errors.Join(err, release()) }()
	snap, err := g.openSnapshotter()
	if err != nil {
		return u, err
	}
	containers, err := g.openContainers()
	if err != nil {
		return u, err
	}
	infos, err := store.Infos()
	if err != nil {
		return u, err
	}
	var damaged []cache.ImageInfo
	for _, info := range infos {
		if info.Damaged != nil {
			damaged = append(damaged, info)
		}
	}
	warnDamaged(warn, damaged)
	list, err := containers.List()
	if err != nil {
		return u, err
	}
	// The dangling images containers use are images the collection keeps, as images lists
	// them: their blobs are in use, not reclaimable.
	dangling, err := danglingImages(store, list)
	if err != nil {
		return u, err
	}
	infos = append(infos, dangling...)
	dirs, err := snap.List()
	if err != nil {
		return u, err
	}
	blobs, err := storeBlobs(store)
	if err != nil {
		return u, err
	}

	l := newLedger(g, infos, list, dirs, blobs)
	u.Images = append(u.Images, l.images(infos)...)
	u.byImage = l.perImage(infos)
	u.Layers = append(u.Layers, l.layers(dirs)...)
	imagesRow := l.totals(&u.Totals)
	// Images, as docker counts them: an image of several names is one, and the dangling
	// ones images lists count too (their bytes are unused, reclaimable, in the ledger).
	counted := map[v1.Hash]bool{}
	unused, err := store.Dangling()
	if err != nil {
		return u, err
	}
	for _, info := range append(infos, unused...) {
		if counted[info.ID] {
			continue
		}
		counted[info.ID] = true
		imagesRow.Total++
		if l.imagesUsing[info.ID.String()] > 0 {
			imagesRow.Active++
		}
	}
	containersRow := usageRow{Type: "Containers", Total: len(list)}
	for _, c := range list {
		size, err := containerSize(g, c)
		if err != nil {
			// One container that cannot be measured is shown as 0, as docker logs it and
			// lists the others: its error made df fail for every container.
			warnSize(warn, c, err)
			size = 0
		}
		image := c.Config.Image
		if id := c.Config.ImageID; id != "" && image != id && !namesImage(store, image, id) {
			image = shortID(id) // as ps shows it: the name now names another image, or none
		}
		status := string(c.State.Status)
		switch {
		case runner.Paused(c):
			status = "paused" // as ps's State
		case c.State.NeverStarted():
			status = string(runner.StatusCreated)
		}
		u.Containers = append(u.Containers, containerUsage{ID: c.ID, Name: c.Name(), Image: image, Status: status, Size: size})
		containersRow.Size += size
		if c.State.Running() {
			containersRow.Active++
		} else {
			containersRow.Reclaimable += size
		}
	}
	volumesRow, volumes := volumesUsage(g, list, warn)
	u.Summary, u.Volumes = []usageRow{imagesRow, containersRow, volumesRow}, volumes
	return u, nil
}

// ledger knows, for every blob and layer dir on disk, which images and containers use it.
type ledger struct {
	blobs, layerDirs map[v1.Hash]*object
	compressed       map[v1.Hash]map[v1.Hash]bool // DiffID → the blobs it is unpacked from
	layerBlobs       map[v1.Hash]bool             // the blobs some image names as a layer
	imagesUsing      map[string]int               // image ID → containers created from it
	pinnedBy         map[v1.Hash]int              // DiffID → containers whose root uses it
	imageOf          map[string]v1.Hash           // ledgerKey → the image's ID
}

func newLedger(g *globals, infos []cache.ImageInfo, list []*runner.Container, dirs []snapshotter.Layer, blobs map[v1.Hash]*object) *ledger {
	l := &ledger{
		blobs:       blobs,
		layerDirs:   map[v1.Hash]*object{},
		compressed:  map[v1.Hash]map[v1.Hash]bool{},
		layerBlobs:  map[v1.Hash]bool{},
		imagesUsing: map[string]int{},
		pinnedBy:    map[v1.Hash]int{},
		imageOf:     map[string]v1.Hash{},
	}
	for _, d := range dirs {
		l.layerDirs[d.DiffID] = &object{size: d.Size, refs: map[string]bool{}}
	}
	for _, c := range list {
		l.imagesUsing[c.Config.ImageID]++
		for d := range containerLayers(g, c) {
			l.pinnedBy[d]++
			if o := l.layerDirs[d]; o != nil {
				o.pinned = true
			}
		}
	}
	for _, info := range infos {
		for _, d := range info.Layers {
			l.layerBlobs[d.Digest] = true
		}
		for _, d := range info.Blobs { // every platform's, for a ref naming an index
			if d.MediaType.IsLayer() {
				l.layerBlobs[d.Digest] = true
			}
		}
		active := l.imagesUsing[info.ID.String()] > 0
		for _, o := range l.objects(info) {
			o.refs[ledgerKey(info)] = true
			l.imageOf[ledgerKey(info)] = info.ID
			o.active = o.active || active
		}
		// Layers and DiffIDs pair up by index; a config that disagrees with its manifest
		// attributes no blob to any layer dir rather than the wrong one.
		diffIDs := info.Config.RootFS.DiffIDs
		if len(diffIDs) != len(info.Layers) {
			continue
		}
		for i, d := range diffIDs {
			if l.compressed[d] == nil {
				l.compressed[d] = map[v1.Hash]bool{}
			}
			l.compressed[d][info.Layers[i].Digest] = true
		}
	}
	return l
}

// ledgerKey tells images apart in the ledger: by name, a dangling one (no name) by its ID.
func ledgerKey(info cache.ImageInfo) string {
	if info.Ref == "" {
		return "<none>@" + info.ID.String()
	}
	return info.Ref
}

// objects are the distinct blobs and layer dirs of one image that exist on disk.
func (l *ledger) objects(info cache.ImageInfo) []*object {
	seen := map[*object]bool{}
	var out []*object
	add := func(o *object) {
		if o != nil && !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	add(l.blobs[info.Manifest.Digest])
	add(l.blobs[info.ID])
	for _, d := range info.Layers {
		add(l.blobs[d.Digest])
	}
	for _, d := range info.Blobs { // every platform's, for a ref naming an index
		add(l.blobs[d.Digest])
	}
	for _, d := range info.Config.RootFS.DiffIDs {
		add(l.layerDirs[d])
	}
	return out
}

// images splits each image's bytes into what only it uses (what removing it frees) and
// what it shares with other images or with containers.
func (l *ledger) images(infos []cache.ImageInfo) []imageUsage {
	out := make([]imageUsage, 0, len(infos))
	for _, info := range infos {
		iu := imageUsage{Ref: info.Ref, ID: info.ID.String(), Created: info.Created, Containers: l.imagesUsing[info.ID.String()]}
		if info.Damaged != nil {
			iu.Damaged = info.Damaged.Error()
		}
		for _, o := range l.objects(info) {
			iu.Size += o.size
			if len(o.refs) == 1 && !o.pinned {
				iu.Unique += o.size
			} else {
				iu.Shared += o.size
			}
		}
		out = append(out, iu)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out
}

// perImage is images with an image of several names counted once, as docker's system df -v
// lists it: named by its first tag (its first name when it has no tag), Unique what no other
// image and no container uses, whatever its names.
func (l *ledger) perImage(infos []cache.ImageInfo) []imageUsage {
	refsOf := map[v1.Hash]map[string]bool{}
	var order []v1.Hash
	for _, info := range infos {
		if refsOf[info.ID] == nil {
			refsOf[info.ID] = map[string]bool{}
			order = append(order, info.ID)
		}
		refsOf[info.ID][ledgerKey(info)] = true
	}
	byID := map[v1.Hash]*imageUsage{}
	for _, iu := range l.images(infos) {
		id, err := v1.NewHash(iu.ID)
		if err != nil {
			continue
		}
		first := byID[id]
		if first == nil {
			c := iu
			byID[id] = &c
			continue
		}
		if tagged(iu.Ref) && !tagged(first.Ref) {
			first.Ref = iu.Ref
		}
	}
	out := make([]imageUsage, 0, len(order))
	seen := map[v1.Hash]bool{}
	for _, info := range infos {
		iu := byID[info.ID]
		if iu == nil || seen[info.ID] {
			continue
		}
		seen[info.ID] = true
		iu.Shared, iu.Unique = 0, 0
		for _, o := range l.objects(info) {
			only := !o.pinned
			for r := range o.refs {
				only = only && refsOf[info.ID][r]
			}
			if only {
				iu.Unique += o.size
			} else {
				iu.Shared += o.size
			}
		}
		out = append(out, *iu)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out
}

// tagged says whether name is a reference with a tag.
func tagged(name string) bool {
	ref, err := registry.ParseReference(name)
	return err == nil && ref.Tag() != ""
}

// imageCount is how many images (not names: two names of one image are one) use o.
func (l *ledger) imageCount(o *object) int {
	images := map[v1.Hash]bool{}
	for r := range o.refs {
		images[l.imageOf[r]] = true
	}
	return len(images)
}

// layers describes each layer dir, in snapshotter.List's order.
func (l *ledger) layers(dirs []snapshotter.Layer) []layerUsage {
	out := make([]layerUsage, 0, len(dirs))
	for _, d := range dirs {
		o := l.layerDirs[d.DiffID]
		lu := layerUsage{DiffID: d.DiffID.String(), Unpacked: o.size, Images: l.imageCount(o), Containers: l.pinnedBy[d.DiffID]}
		for b := range l.compressed[d.DiffID] {
			if bo := l.blobs[b]; bo != nil {
				lu.Compressed += bo.size
			}
		}
		out = append(out, lu)
	}
	return out
}

// totals counts every object once into t, and returns the Images summary row's sizes: all
// of it, and what `prune -a` would free (what no container needs).
func (l *ledger) totals(t *usageTotals) usageRow {
	row := usageRow{Type: "Images"}
	count := func(o *object) {
		row.Size += o.size
		if !o.active && !o.pinned {
			row.Reclaimable += o.size
		}
		// By image, as docker counts what images share: two names of one image share
		// nothing with each other.
		switch n := l.imageCount(o); {
		case n == 1:
			t.Unique += o.size
		case n > 1:
			t.Shared += o.size
		case o.pinned:
			// In use as prune sees it (layersInUse): a container's root is made of it.
			t.Containers += o.size
		default:
			t.Unused += o.size
		}
	}
	for _, o := range l.layerDirs {
		t.Layers++
		t.Unpacked += o.size
		count(o)
	}
	for h, o := range l.blobs {
		t.Blobs++
		t.Compressed += o.size
		if l.layerBlobs[h] {
			t.LayerBlobs++
			t.LayerCompressed += o.size
		}
		count(o)
	}
	t.Total = t.Unpacked + t.Compressed
	return row
}

// storeBlobs lists the verified blobs of the image layout (blobs/sha256/<hex>, image-spec
// image-layout.md) with their sizes. Partial downloads live in ingest/ and are not blobs.
func storeBlobs(store *cache.Store) (map[v1.Hash]*object, error) {
	dir := filepath.Join(store.Dir(), "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[v1.Hash]*object{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing blobs: %w", err)
	}
	out := make(map[v1.Hash]*object, len(entries))
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		h, err := v1.NewHash("sha256:" + e.Name())
		if err != nil {
			continue // a temp file being written, not a blob
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // pruned while we listed
		}
		if err != nil {
			return nil, fmt.Errorf("measuring blob %s: %w", h, err)
		}
		out[h] = &object{size: fi.Size(), refs: map[string]bool{}}
	}
	return out, nil
}

// containerLayers are the layer dirs a container's root is made of: its overlay lowerdirs,
// or the layer dir bound read-only as its root. A vfs container holds a copy and none. The
// collection keeps exactly these (layersInUse), so df's "in use" is prune's.
func containerLayers(g *globals, c *runner.Container) map[v1.Hash]bool {
	out := map[v1.Hash]bool{}
	for _, m := range c.Config.Spec.Root {
		dirs, _, _ := m.OverlayDirs()
		if m.Type == "bind" {
			dirs = []string{m.Source}
		}
		for _, d := range dirs {
			if filepath.Dir(d) != g.snapshotsDir() {
				continue
			}
			if h, err := v1.NewHash("sha256:" + filepath.Base(d)); err == nil {
				out[h] = true
			}
		}
	}
	return out
}

// filesSize measures what a container's writes take: snapshotter.FilesSize, which tests
// replace to make a container fail to measure.
var filesSize = snapshotter.FilesSize

// warnSize tells on w, in one short line, that c could not be measured and shows as 0. The
// cause is the system's error alone when there is one: the path it names may be kilobytes
// long (a tree deeper than PATH_MAX), and every container of ps -s printed a line of that.
func warnSize(w io.Writer, c *runner.Container, err error) {
	fmt.Fprintf(w, "WARNING: cannot measure the size of container %s, shown as 0: %s\n", shortID(c.ID), sizeCause(err))
}

// sizeCause is err as warnSize shows it: its errno's text, else the error quoted and cut.
func sizeCause(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return quote.Cut(err.Error(), maxQuotedPath)
}

// containerSize is the disk a container's writes take: its overlay upper, or with vfs the
// copy of the image it runs in (its root is a bind of that copy), and its anonymous volumes,
// which go with it.
func containerSize(g *globals, c *runner.Container) (int64, error) {
	// An entry that is no dir (a symlink to a dir elsewhere, a hand edit) holds nothing:
	// measured, its upper and volumes were those of the dir it names, outside the store.
	if fi, err := os.Lstat(c.Dir); err != nil || !fi.IsDir() {
		return 0, nil
	}
	var total int64
	dirs := []string{filepath.Join(c.Dir, "upper"), filepath.Join(c.Dir, runner.VolumesDir)}
	for _, m := range c.Config.Spec.Root {
		if m.Type == "bind" && m.Source == filepath.Join(c.Dir, "rootfs") {
			dirs = append(dirs, m.Source)
		}
	}
	for _, d := range dirs {
		n, err := filesSize(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("measuring container %s: %w", shortID(c.ID), err)
		}
		total += n
	}
	return total, nil
}

func printDiskUsage(w io.Writer, u usage, verbose bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
	for _, r := range u.Summary {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", r.Type, r.Total, r.Active, dfSize(r.Size), reclaimable(r.Reclaimable, r.Size))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	t := u.Totals
	// strata's own line (docker's df has none): the layer dirs and the layer blobs they are
	// unpacked from, then every blob (manifests and configs too), and how all of it is shared.
	fmt.Fprintf(w, "\nLayers: %d unpacked (%s) from %s (%s); %s in all, with manifests and configs (%s); used by one image %s, shared %s, by containers only %s, unused %s\n",
		t.Layers, humanSize(t.Unpacked), plural(t.LayerBlobs, "blob"), humanSize(t.LayerCompressed), plural(t.Blobs, "blob"), humanSize(t.Compressed),
		humanSize(t.Unique), humanSize(t.Shared), humanSize(t.Containers), humanSize(t.Unused))
	if !verbose {
		return nil
	}

	fmt.Fprintln(w, "\nImages space usage:")
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	// docker's columns, CREATED among them.
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS")
	images := u.byImage
	if images == nil {
		images = u.Images
	}
	for _, i := range images {
		row := newImageRow(cache.ImageInfo{Ref: i.Ref})
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", row.Repository, row.Tag, shortID(i.ID), humanSince(i.Created), humanSize(i.Size), humanSize(i.Shared), humanSize(i.Unique), i.Containers)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nLayers space usage:")
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "DIFF ID\tCOMPRESSED\tUNPACKED\tIMAGES\tCONTAINERS")
	for _, l := range u.Layers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", shortID(l.DiffID), humanSize(l.Compressed), humanSize(l.Unpacked), l.Images, l.Containers)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nContainers space usage:")
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tSIZE\tSTATUS\tNAMES")
	for _, c := range u.Containers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", shortID(c.ID), c.Image, humanSize(c.Size), c.Status, c.Name)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return printVolumesUsage(w, u.Volumes)
}

// reclaimable is docker's "1.234MB (40%)", or "0B" alone when the total is 0: docker's
// summary sizes are units.HumanSize's, four significant digits (dfSize).
func reclaimable(n, of int64) string {
	if of <= 0 {
		return dfSize(n)
	}
	return fmt.Sprintf("%s (%d%%)", dfSize(n), n*100/of)
}

// dfSize is a size of system df's summary as docker prints it: units.HumanSize, four
// significant digits ("887.2kB"), where images and ps print three.
func dfSize(n int64) string { return humanSizePrecision(n, 4) }
