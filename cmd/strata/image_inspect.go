package main

import (
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
	"github.com/strata-run/strata/runner"
)

// newImageCmd is `strata image`, docker's management command: the image commands again under
// one name, plus inspect. docker image prune, save and load are there too: scripts written
// for docker run `image prune -af` (strata's prune, which without -a removes dangling
// images and their blobs as docker's does, and with -a the images no container uses; unlike
// strata prune, it asks first unless -f, as docker's does).
func newImageCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage images: inspect, ls, history, pull, push, rm, tag",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	ls := newImagesCmd(g)
	ls.Use, ls.Aliases = "ls [OPTIONS] [REPOSITORY[:TAG]]", []string{"list"}
	rm := newRmiCmd(g)
	rm.Use, rm.Aliases = "rm [OPTIONS] IMAGE [IMAGE...]", []string{"remove"}
	cmd.AddCommand(newImageInspectCmd(g), ls, rm, newPullCmd(g), newPushCmd(g), newTagCmd(g), newHistoryCmd(g))
	// Hidden: the top-level prune, save and load are the ones help lists (and the bad-input
	// matrix of the integration tests calls); these are there for docker's scripts.
	for _, c := range []*cobra.Command{newImagePruneCmd(g), newSaveCmd(g), newLoadCmd(g), newImportCmd(g)} {
		c.Hidden = true
		cmd.AddCommand(c)
	}
	return cmd
}

// imageInspect is one element of `strata image inspect`'s JSON array, with docker's field
// names so that scripts and --format templates written for docker work.
type imageInspect struct {
	Id          string //nolint:revive // docker's name, which templates use: {{.Id}}
	RepoTags    []string
	RepoDigests []string
	// Parent and Comment are docker's: an image strata stores has no parent in a local
	// builder's chain, and its config no comment; they are there, empty, so that templates
	// written for docker ({{.Parent}}) do not fail on a missing field.
	Parent        string
	Comment       string
	Created       string
	DockerVersion string
	Author        string
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	// Size is the compressed size in the store (config and distinct layers); docker shows
	// the unpacked size, which the layer dirs would have to be walked for.
	Size   int64
	Config inspectImageConfig
	RootFS inspectRootFS
	// Metadata is docker's: LastTagTime is the zero time, as docker shows for an image it
	// did not tag itself.
	Metadata inspectMetadata
	// Descriptor is the manifest descriptor from the store's index.json (as docker's
	// containerd image store shows it): the index's, for a multi-platform image.
	Descriptor v1.Descriptor
	// Manifests lists the platforms a multi-platform image holds; the fields above describe
	// this host's (or the first). Docker shows them only with --platform; a bundle made for
	// another architecture is checked here.
	Manifests []inspectManifest `json:",omitempty"`
}

// inspectManifest is one platform of a multi-platform image.
type inspectManifest struct {
	Platform string
	Digest   string
	Id       string //nolint:revive // as imageInspect.Id
	Size     int64
}

type inspectMetadata struct {
	LastTagTime string
}

type inspectRootFS struct {
	Type   string
	Layers []string
}

func newImageInspectCmd(g *globals) *cobra.Command {
	var format, platform string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Show stored images as docker's JSON, or through a Go template",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			want, err := platformFlag(platform)
			if err != nil {
				return err
			}
			store, err := g.openStore()
			if err != nil {
				return err
			}
			var found []imageInspect
			var errs []error
			for _, a := range args {
				in, err := inspectImageFor(store, a, want)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				found = append(found, in)
			}
			// As docker: what was found is printed even when another argument was not.
			if format != "" && format != "json" {
				if err := printTemplate(cmd.OutOrStdout(), format, found); err != nil {
					return err
				}
			} else if err := printJSONArray(cmd.OutOrStdout(), found, format == "json"); err != nil {
				return err
			}
			// An error line for each image not found, as docker's.
			return eachError(cmd.ErrOrStderr(), errs)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "json (one line), or a Go template, e.g. '{{.Id}}' or '{{json .Config}}'")
	cmd.Flags().StringVar(&platform, "platform", "", "os/arch[/variant]: show that platform's image of a multi-platform one (its config, layers and size), as docker's")
	return cmd
}

// inspectImage describes one stored image found by the user's words (a reference, an ID or a
// digest prefix).
func inspectImage(store *cache.Store, arg string) (imageInspect, error) {
	return inspectImageFor(store, arg, nil)
}

// inspectImageFor is inspectImage that, with want set, describes that platform's image of a
// multi-platform one (its platform, config, layers and size), as docker image inspect
// --platform does; the ID, names and manifests stay the image's. An image that holds no
// such platform is an error naming what it holds.
func inspectImageFor(store *cache.Store, arg string, want *v1.Platform) (imageInspect, error) {
	r, err := findRef(store, arg)
	if err != nil {
		return imageInspect{}, err
	}
	info, err := store.Info(r)
	if err != nil {
		return imageInspect{}, err
	}
	if want != nil {
		if info, err = platformInfo(store, r, info, *want); err != nil {
			return imageInspect{}, err
		}
	}
	refs, err := store.List()
	if err != nil {
		return imageInspect{}, err
	}
	in := imageInspect{
		Id:            info.ID.String(),
		RepoTags:      []string{},
		RepoDigests:   []string{},
		DockerVersion: info.Config.DockerVersion,
		Author:        info.Config.Author,
		Metadata:      inspectMetadata{LastTagTime: time.Time{}.Format(time.RFC3339)},
		Architecture:  info.Architecture,
		Variant:       info.Variant,
		Os:            info.OS,
		Size:          info.Size,
		Config:        imageInspectConfig(info),
		RootFS:        inspectRootFS{Type: "layers", Layers: []string{}},
		Descriptor:    r.Descriptor,
	}
	// Docker prints a config's "created" even when it is the zero time (0001-01-01T00:00:00Z);
	// only a config without one leaves Created empty.
	if !info.Created.IsZero() || info.HasCreated {
		in.Created = info.Created.UTC().Format(time.RFC3339Nano)
	}
	for _, d := range info.Config.RootFS.DiffIDs {
		in.RootFS.Layers = append(in.RootFS.Layers, d.String())
	}
	for _, p := range info.Platforms {
		m := inspectManifest{Digest: p.Manifest.Digest.String(), Id: p.ID.String(), Size: p.Size}
		if p.Platform != nil {
			m.Platform = p.Platform.String()
		}
		in.Manifests = append(in.Manifests, m)
	}
	// As docker: every name of the same image (the same manifest here, so a name holding
	// another platform's manifest of the same index is not counted), and the repo digest
	// each name was pulled or pushed by.
	seen := map[string]bool{}
	for _, o := range refs {
		if o.Descriptor.Digest != r.Descriptor.Digest {
			continue
		}
		ref, err := registry.ParseReference(o.Name)
		if err != nil {
			continue
		}
		if ref.Tag() != "" && ref.Digest() == "" {
			in.RepoTags = append(in.RepoTags, ref.Familiar())
		}
		root := o.Descriptor.Annotations[rootDigestAnnotation]
		if root == "" && ref.Digest() != "" {
			root = ref.Digest()
		}
		if rd := ref.FamiliarName() + "@" + root; root != "" && !seen[rd] {
			seen[rd] = true
			in.RepoDigests = append(in.RepoDigests, rd)
		}
	}
	return in, nil
}

// inspectImageConfig is the image's config as docker's image inspect shows it: its
// Healthcheck has the StartInterval (HEALTHCHECK --start-interval) that v1.HealthConfig lacks.
type inspectImageConfig struct {
	v1.Config
	Healthcheck *runner.HealthConfig `json:",omitempty"`
}

// imageInspectConfig is info's config as image inspect shows it.
func imageInspectConfig(info cache.ImageInfo) inspectImageConfig {
	c := inspectImageConfig{Config: info.Config.Config}
	if h := c.Config.Healthcheck; h != nil {
		c.Healthcheck = &runner.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, StartInterval: info.HealthStartInterval, Retries: h.Retries}
	}
	return c
}

// platformInfo is info with the platform, config, layers and size of r's image for want: the
// manifest an index lists for it, or r's own single image when its config names want.
func platformInfo(store *cache.Store, r cache.Ref, info cache.ImageInfo, want v1.Platform) (cache.ImageInfo, error) {
	if !r.Descriptor.MediaType.IsIndex() {
		have := v1.Platform{OS: info.OS, Architecture: info.Architecture, Variant: info.Variant}
		if !cache.PlatformMatches(want, have) {
			return info, fmt.Errorf("image %s was found but does not provide the specified platform (%s): it is %s", familiarRef(r.Name), want.String(), have.String())
		}
		return info, nil
	}
	d, err := store.ImageFor(r, want)
	if err != nil {
		return info, err
	}
	p, err := store.Info(cache.Ref{Name: r.Name, Descriptor: d})
	if err != nil {
		return info, err
	}
	info.OS, info.Architecture, info.Variant = p.OS, p.Architecture, p.Variant
	info.Config, info.Created, info.HasCreated, info.Size, info.Layers = p.Config, p.Created, p.HasCreated, p.Size, p.Layers
	info.HealthStartInterval = p.HealthStartInterval
	info.HistoryHasCreated = p.HistoryHasCreated
	return info, nil
}

// platformFlag reads a --platform that picks one platform of a stored image: nil when it is
// not given (the host's, or the first).
func platformFlag(platform string) (*v1.Platform, error) {
	if platform == "" {
		return nil, nil
	}
	p, err := registry.ParsePlatform(platform)
	if err != nil {
		return nil, err
	}
	return &p, nil
}
