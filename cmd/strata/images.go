package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
	"github.com/strata-run/strata/runner"
)

// imageRow is one line of `strata images` (templates and --format json see its imageView).
type imageRow struct {
	Repository string
	Tag        string
	Digest     string
	ID         string
	CreatedAt  time.Time
	Created    string `json:"-"`
	Size       int64
	SizeHuman  string            `json:"-"`
	ref        string            // the full reference, for filters
	manifest   string            // the digest of the manifest or index the name holds
	labels     map[string]string // the config's, for --filter label=
	// damaged is the image's info when it could not be read whole, for the warning.
	damaged *cache.ImageInfo
}

// imageView is a row as a --format template sees it: docker's placeholders with docker's
// values, so a template written for docker prints what it prints there. {{.Size}} is the
// size as the table shows it ("7.44MB"), where it printed the bytes ({{.SizeHuman}} stays),
// and {{.CreatedAt}} is in the local time zone, as docker shows it.
type imageView struct {
	Repository string
	Tag        string
	Digest     string
	ID         string
	CreatedAt  time.Time
	Created    string
	Size       string
	SizeHuman  string

	virtualSize string
}

func newImageView(r imageRow) imageView {
	return imageView{Repository: r.Repository, Tag: r.Tag, Digest: r.Digest, ID: r.ID,
		CreatedAt: r.CreatedAt.Local(), Created: r.Created, Size: r.SizeHuman, SizeHuman: r.SizeHuman,
		virtualSize: humanSizePrecision(r.Size, 4)}
}

// MarshalJSON is --format json's line: docker's {{json .}} of its image formatter's row
// (cli/command/formatter/image.go through formatter.MarshalJSON), its placeholders as a
// template prints them, all strings, keys sorted, HTML-escaped as json.Marshal writes them.
// strata's SizeHuman and Created are not docker's, so they are left out.
func (v imageView) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"Containers": v.Containers(), "CreatedAt": v.CreatedAt.String(), "CreatedSince": v.CreatedSince(),
		"Digest": v.Digest, "ID": v.ID, "Repository": v.Repository, "SharedSize": v.SharedSize(),
		"Size": v.Size, "Tag": v.Tag, "UniqueSize": v.UniqueSize(), "VirtualSize": v.VirtualSize(),
	})
}

func (imageView) headers() map[string]string {
	return map[string]string{"ID": "IMAGE ID", "CreatedSince": "CREATED", "VirtualSize": "VIRTUAL SIZE",
		"Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}
}

// CreatedSince is docker's "2 years ago".
func (v imageView) CreatedSince() string { return v.Created }

// VirtualSize is docker's deprecated alias of the size, which docker prints with four
// significant digits (units.HumanSize: "886.6kB"), not the three of Size ("887kB").
func (v imageView) VirtualSize() string { return v.virtualSize }

// Containers is N/A, as docker images shows it.
func (imageView) Containers() string { return "N/A" }

// SharedSize is N/A, as docker images shows it.
func (imageView) SharedSize() string { return "N/A" }

// UniqueSize is N/A, as docker images shows it.
func (imageView) UniqueSize() string { return "N/A" }

func newImagesCmd(g *globals) *cobra.Command {
	var digests, quiet, noTrunc bool
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:     "images [OPTIONS] [REPOSITORY[:TAG]]",
		Aliases: []string{"image ls"},
		Short:   "List images in the local store",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// As docker's: an empty argument (a script's "$REPO" unset) filters nothing.
			if len(args) == 1 && args[0] != "" {
				f, err := referenceArg(args[0])
				if err != nil {
					return err
				}
				filters = append(filters, f)
			}
			store, err := g.openStore()
			if err != nil {
				return err
			}
			rows, err := imageRows(store, usedImages(g))
			if err != nil {
				return err
			}
			f, err := parseImageFilter(store, filters, rows)
			if err != nil {
				return err
			}
			rows = slices.DeleteFunc(rows, func(r imageRow) bool { return !f.match(r) })
			rows = underTags(rows, digests)
			var damaged []cache.ImageInfo
			for _, r := range rows {
				if r.damaged != nil {
					damaged = append(damaged, *r.damaged)
				}
			}
			warnDamaged(cmd.ErrOrStderr(), damaged)
			if len(rows) == 0 && len(args) == 1 && cmd.CalledAs() == "images" && isImageSubcommand(cmd, args[0]) {
				// As docker's: "images ls" meant "image ls" more often than an image named ls.
				fmt.Fprintf(cmd.ErrOrStderr(), "No images found matching %q: did you mean \"strata image %s\"?\n", args[0], args[0])
			}
			// As docker's NewImageFormat: -q replaces the table, and a --format of its own
			// (a template, json) wins over -q, where ps's -q wins instead.
			if quiet && tableDefault(format) {
				// As docker: one ID per row, so an image with two tags is listed twice.
				for _, r := range rows {
					fmt.Fprintln(cmd.OutOrStdout(), imageID(r.ID, noTrunc))
				}
				return nil
			}
			return printImages(cmd.OutOrStdout(), rows, digests, noTrunc, format)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	// docker images -a adds the intermediate images of its builder; strata has none.
	cmd.Flags().BoolP("all", "a", false, "accepted for docker's scripts: every image is listed anyway")
	cmd.Flags().BoolVar(&digests, "digests", false, "show manifest digests")
	stringArrayVar(cmd.Flags(), &filters, "filter", "f", nil, "show only images that match: reference= (a pattern such as 'alpine:3*'), dangling=, label=KEY[=VALUE] (label!= for the others), before= or since= an image, until= a time or a duration (repeatable)")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "show whole image IDs (sha256:…)")
	cmd.Flags().StringVar(&format, "format", "", "json, or a Go template such as '{{.Repository}}:{{.Tag}}'")
	return cmd
}

// usedImages lists the containers for the images they use, or nil when they cannot be read:
// the listing of images goes on without the dangling ones.
func usedImages(g *globals) []*runner.Container {
	containers, err := g.openContainers()
	if err != nil {
		return nil
	}
	list, err := containers.List()
	if err != nil {
		return nil
	}
	return list
}

// imageRows are the rows of `strata images`, newest first. An image that could not be read
// whole is a row of what is known (see cache.Store.DescribeDamaged), marked for the warning.
// The images no name reaches any more (their tag moved, or rmi -f untagged them) are rows
// too, <none>:<none>, as docker lists dangling images: those containers in list use, which
// the collection keeps, and those stored whole until a prune removes them.
func imageRows(store *cache.Store, list []*runner.Container) ([]imageRow, error) {
	infos, err := store.Infos()
	if err != nil {
		return nil, err
	}
	dangling, err := listedDangling(store, list)
	if err != nil {
		return nil, err
	}
	infos = append(infos, dangling...)
	rows := make([]imageRow, 0, len(infos))
	for _, info := range infos {
		row := newImageRow(info)
		if info.Damaged != nil {
			row.damaged = &info
		}
		rows = append(rows, row)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].CreatedAt.After(rows[j].CreatedAt) })
	return rows, nil
}

// warnDamaged prints one line on w for the images that could not be read whole, naming them
// and why the first failed, and what to do: docker lists such an image, and rmi removes it.
func warnDamaged(w io.Writer, damaged []cache.ImageInfo) {
	if len(damaged) == 0 {
		return
	}
	names := make([]string, 0, len(damaged))
	for _, d := range damaged {
		if d.Ref == "" { // dangling: named by its ID
			names = append(names, shortID(d.ID.String()))
			continue
		}
		names = append(names, familiarRef(d.Ref))
	}
	what := fmt.Sprintf("image %s is damaged (%v)", names[0], damaged[0].Damaged)
	if len(names) > 1 {
		if len(names) > 5 {
			names = append(names[:5], "…")
		}
		what = fmt.Sprintf("%d images are damaged (%s; the first: %v)", len(damaged), strings.Join(names, ", "), damaged[0].Damaged)
	}
	fmt.Fprintln(w, oneLine("strata: warning: "+what+": listed with what could be read; pull or load it again, or rmi it"))
}

// underTags drops the rows of NAME@DIGEST names that a row of a tag shows already, as docker's
// images and podman's do: a digest of a repository is no row of its own while a tag of that
// repository names the same image. Of the digest names of one image and repository with no
// tag, one row stays, or with digests one per digest shown.
func underTags(rows []imageRow, digests bool) []imageRow {
	type key struct{ repo, id, digest string }
	tagged := map[key]bool{}
	for _, r := range rows {
		if r.ref != "" && r.Tag != "<none>" {
			tagged[key{r.Repository, r.ID, ""}] = true
		}
	}
	seen := map[key]bool{}
	return slices.DeleteFunc(rows, func(r imageRow) bool {
		if r.ref == "" || r.Tag != "<none>" {
			return false // a tag's row, or a dangling image's
		}
		if ref, err := registry.ParseReference(r.ref); err != nil || ref.Digest() == "" {
			return false
		}
		k := key{r.Repository, r.ID, ""}
		if tagged[k] {
			return true
		}
		if digests {
			k.digest = r.Digest
		}
		if seen[k] {
			return true
		}
		seen[k] = true
		return false
	})
}

func newImageRow(info cache.ImageInfo) imageRow {
	row := imageRow{
		Repository: info.Ref,
		Tag:        "<none>",
		Digest:     repoDigest(info),
		ID:         info.ID.String(),
		CreatedAt:  info.Created,
		Created:    imageCreatedSince(info),
		// Compressed bytes: what the image costs in the store and on the wire.
		// `strata system df` shows unpacked sizes and what layer sharing saves.
		Size:      info.Size,
		SizeHuman: humanSize(info.Size),
		ref:       info.Ref,
		manifest:  info.Manifest.Digest.String(),
		labels:    info.Config.Config.Labels,
	}
	if info.Ref == "" {
		// Dangling: no name reaches it, and no name@digest: docker shows <none> for its
		// digest as for its repository and tag.
		row.Repository, row.Digest = "<none>", "<none>"
	} else if ref, err := registry.ParseReference(info.Ref); err == nil {
		row.Repository = ref.FamiliarName()
		if ref.Tag() != "" {
			row.Tag = ref.Tag()
		}
	} else {
		// A name in the store's index.json that is no reference (the file edited, or written
		// by another tool) is shown as read, but its escape sequences are not run on the
		// user's terminal.
		row.Repository = escapeUnprintable(info.Ref)
	}
	return row
}

// repoDigest is the DIGEST column of images --digests, as docker shows it: the digest the
// image was pulled (or pushed) by, which pull prints as "Digest:" and image inspect lists in
// RepoDigests: the index's for a multi-platform image of which one platform is stored. A
// name by digest shows its digest; an image neither pulled nor named by digest (loaded,
// tagged) shows the manifest or index it holds.
func repoDigest(info cache.ImageInfo) string {
	// The store's index.json is read as it is: a root that is no digest is not shown.
	if root, err := v1.NewHash(info.Manifest.Annotations[rootDigestAnnotation]); err == nil {
		return root.String()
	}
	if ref, err := registry.ParseReference(info.Ref); err == nil && ref.Digest() != "" {
		return ref.Digest()
	}
	return info.Manifest.Digest.String()
}

// imageID is an image ID as docker shows it: 12 hex digits, or with noTrunc the whole
// sha256:… digest.
func imageID(id string, noTrunc bool) string {
	if noTrunc {
		return id
	}
	return shortID(id)
}

func printImages(w io.Writer, rows []imageRow, digests, noTrunc bool, format string) error {
	if format != "" {
		// --format json and templates show IDs as the table does, as docker's do.
		rows = slices.Clone(rows)
		for i := range rows {
			rows[i].ID = imageID(rows[i].ID, noTrunc)
		}
	}
	if !tableDefault(format) {
		views := make([]imageView, 0, len(rows))
		for _, r := range rows {
			v := newImageView(r)
			if strings.TrimSpace(format) == "json" && !digests {
				// docker's json is {{json .}}, a format without {{.Digest}}: docker looks
				// the digests up only with --digests, and shows "<none>" otherwise.
				v.Digest = "<none>"
			}
			views = append(views, v)
		}
		if strings.TrimSpace(format) == "json" {
			format = "{{json .}}"
		}
		return printTemplate(w, format, views)
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0) // docker's table widths
	if digests {
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST\tIMAGE ID\tCREATED\tSIZE")
	} else {
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	}
	for _, r := range rows {
		id := imageID(r.ID, noTrunc)
		if digests {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.Digest, id, r.Created, r.SizeHuman)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, id, r.Created, r.SizeHuman)
		}
	}
	return tw.Flush()
}

// printTemplate renders each item through a Go template, one per line, as docker --format does;
// "table TEMPLATE" aligns the columns under a header line.
func printTemplate[T any](w io.Writer, format string, items []T) error {
	// As docker's: any format that begins with "table" is one, "table{{.ID}}" too.
	format, table := strings.CutPrefix(formatEscapes.Replace(format), "table")
	var zero T
	// Only spaces are trimmed, as docker's: a format's own "\n" at the end is a blank line
	// after each item.
	tmpl, err := parseFormat(strings.Trim(format, " "))
	if err != nil {
		return templateError("invalid --format template", err, zero)
	}
	// Rendered whole before anything is written, so a template that fails on some item prints
	// the error alone, not half a listing.
	out := &formatBuffer{limit: maxFormatOutput}
	if table {
		writeHeader(out, tmpl, zero)
	}
	for _, it := range items {
		if err := tmpl.Execute(out, it); err != nil {
			return templateError("--format", err, it)
		}
		if _, err := out.Write([]byte{'\n'}); err != nil {
			return err
		}
	}
	if !table {
		_, err = w.Write(out.Bytes())
		return err
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0) // docker's table widths
	tw.Write(out.Bytes())
	return tw.Flush()
}

// shortID is the 12-hex form docker prints.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func humanSize(n int64) string {
	const unit = 1000.0 // docker prints decimal units
	f := float64(n)
	for _, u := range []string{"B", "kB", "MB", "GB", "TB"} {
		if f < unit {
			if u == "B" {
				return fmt.Sprintf("%dB", n)
			}
			return fmt.Sprintf("%.3g%s", f, u)
		}
		f /= unit
	}
	return fmt.Sprintf("%.3gPB", f)
}

// humanSizePrecision is docker's units.HumanSizeWithPrecision: n in decimal units with prec
// significant digits ("886.6kB" at 4).
func humanSizePrecision(n int64, prec int) string {
	f := float64(n)
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.*g%s", prec, f, units[i])
}

// imageCreatedSince is the CREATED column of an image: docker's docker/cli leaves it blank
// for a config whose "created" is the zero time (0001-01-01T00:00:00Z), which it cannot tell
// from no time at all after the API turned it into Unix seconds.
func imageCreatedSince(info cache.ImageInfo) string {
	if info.HasCreated && info.Created.IsZero() {
		return ""
	}
	return humanSince(info.Created)
}

// humanSince is docker's CREATED column: how long ago t was, "N/A" when unknown.
func humanSince(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return humanDuration(time.Since(t)) + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// isImageSubcommand reports whether name is a subcommand of `strata image` (or an alias of
// one), which a user may have typed after `images`.
func isImageSubcommand(cmd *cobra.Command, name string) bool {
	image, _, err := cmd.Root().Find([]string{"image"})
	if err != nil || image == cmd.Root() {
		return false
	}
	for _, c := range image.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return true
		}
	}
	return false
}
