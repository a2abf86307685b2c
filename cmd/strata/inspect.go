package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/proccard"
	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/runner/cgroups"
)

// containerInspect is one container in `strata inspect`'s JSON array: docker's fields
// (runner.InspectData, inlined) and, while it runs, its process card under "Process".
type containerInspect struct {
	runner.InspectData
	Process *proccard.Card `json:"Process,omitempty"`
}

func newInspectCmd(g *globals) *cobra.Command {
	var format, typ string
	var proc, size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Show containers (or images) as docker's JSON, with the process card of running containers",
		Long: `Show containers as docker inspect does, plus "Process": the host PID and its parents, each
namespace with its inode, the cgroup with its limits and usage, and the image layers under the
root filesystem. --proc prints that card for people. A name that is no container is looked up
as an image.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch typ {
			case "", "container", "image", "volume":
			default:
				return fmt.Errorf("invalid --type %s: want container, image or volume", quoteValue(typ))
			}
			if proc && typ == "image" {
				return errors.New("--proc shows running containers, not images: drop --type image")
			}
			if proc && typ == "volume" {
				return errors.New("--proc shows running containers, not volumes: drop --type volume")
			}
			return runInspect(g, cmd.OutOrStdout(), cmd.ErrOrStderr(), args, format, typ, proc, size)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&format, "format", "f", "", "json (one line), or a Go template, e.g. '{{.State.Pid}}' or '{{json .Process.Namespaces}}'")
	f.BoolVarP(&size, "size", "s", false, "show each container's SizeRw (its writes) and SizeRootFs (with its image)")
	f.BoolVar(&proc, "proc", false, "print the process card of each running container")
	f.StringVar(&typ, "type", "", "container, image or volume: look the names up as that only, as docker inspect --type")
	return cmd
}

// runInspect prints what args name: containers first, then images, or only typ ("container"
// or "image") when it is set. Warnings go to errW.
func runInspect(g *globals, w, errW io.Writer, args []string, format, typ string, proc, size bool) error {
	containers, err := g.openContainers()
	if err != nil {
		return err
	}
	var images *cache.Store
	var found []any
	var errs []error
	for _, a := range args {
		if typ == "volume" {
			if v, err := g.volumeStore().Get(a); err != nil {
				errs = append(errs, errors.New(volumeError("get", a, err)))
			} else {
				found = append(found, v)
			}
			continue
		}
		var c *runner.Container
		err := runner.ErrNotFound
		if typ != "image" {
			c, err = findContainer(containers, a)
		}
		if errors.Is(err, runner.ErrNotFound) && !proc && typ != "container" {
			// As docker: an argument that names no container may name an image.
			if images == nil {
				if images, err = g.openStore(); err != nil {
					return err
				}
			}
			in, ierr := inspectImage(images, a)
			if ierr != nil && typ == "" {
				// As docker: then a volume of that name.
				if v, err := g.volumeStore().Get(a); err == nil {
					found = append(found, v)
					continue
				}
			}
			if ierr != nil {
				if typ == "image" {
					errs = append(errs, fmt.Errorf("no such image: %s", quoteArg(a)))
				} else {
					errs = append(errs, fmt.Errorf("no such object: %s", quoteArg(a)))
				}
				continue
			}
			found = append(found, in)
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		in := containerInspect{InspectData: runner.Inspect(c)}
		if c.Broken != nil {
			// Dead, as docker calls a container it can only remove, and why.
			in.State.Status, in.State.Error = string(runner.StatusDead), c.Broken.Error()
			in.State.Running, in.State.Dead = false, true
		}
		if size {
			rw, rootfs, err := containerSizes(g, c)
			if err != nil {
				// What could not be measured counts 0, as docker logs it and shows the
				// container; it made inspect -s fail for it.
				warnSize(errW, c, err)
			}
			in.SizeRw, in.SizeRootFs = &rw, &rootfs
		}
		if c.State.Running() {
			card, err := readCard(g, c)
			switch {
			case err == nil:
				in.Process = card
			case errors.Is(err, proccard.ErrNoProcess):
				// It exited while we looked: inspect shows it without a card.
			default:
				errs = append(errs, err)
				continue
			}
		}
		if proc {
			if in.Process == nil {
				errs = append(errs, fmt.Errorf("container %s is not running: it has no process card", a))
				continue
			}
			if len(args) > 1 {
				fmt.Fprintf(w, "%s (%s)\n", c.Name(), shortID(c.ID))
			}
			if err := proccard.Text(w, in.Process); err != nil {
				return err
			}
			continue
		}
		found = append(found, in)
	}
	if !proc {
		// What was found is printed even when another argument was not, as docker does.
		var perr error
		if format != "" && format != "json" {
			perr = printInspectTemplate(w, format, found)
		} else {
			perr = printJSONArray(w, found, format == "json")
		}
		if perr != nil {
			return perr
		}
	}
	return eachError(errW, errs)
}

// printInspectTemplate prints each of items through format. A template that cannot be run on
// an item's Go value runs on its JSON instead, as docker inspect falls back: `{{.Id}}` names
// the JSON key of the ID field, which the Go value calls ID.
func printInspectTemplate(w io.Writer, format string, items []any) error {
	tmpl, err := parseFormat(strings.TrimSpace(formatEscapes.Replace(format)))
	if err != nil {
		return templateError("invalid --format template", err, nil)
	}
	// On the JSON a key that is not there is an error, as in docker's fallback.
	onJSON, err := tmpl.Clone()
	if err != nil {
		return templateError("invalid --format template", err, nil)
	}
	onJSON.Option("missingkey=error")
	out := &formatBuffer{limit: maxFormatOutput}
	for _, it := range items {
		one := &formatBuffer{limit: maxFormatOutput - out.Len()}
		if err := tmpl.Execute(one, it); err != nil {
			if errors.Is(err, errFormatOutput) {
				return err
			}
			one.Reset()
			raw, rerr := asJSONValue(it)
			if rerr == nil {
				rerr = onJSON.Execute(one, raw)
			}
			if rerr != nil {
				return templateError("--format", rerr, raw)
			}
		}
		out.Write(one.Bytes())
		if _, err := out.Write([]byte{'\n'}); err != nil {
			return err
		}
	}
	_, err = w.Write(out.Bytes())
	return err
}

// containerSizes are docker's SizeRw, what c's writes take, and SizeRootFs, those and the
// image layers under them. What cannot be measured counts 0 and err says why (the first
// failure); the rest is measured all the same.
func containerSizes(g *globals, c *runner.Container) (rw, rootfs int64, err error) {
	if rw, err = containerSize(g, c); err != nil {
		rw = 0
	}
	rootfs = rw
	for _, m := range c.Config.Spec.Root {
		if m.Type != "overlay" {
			continue
		}
		for _, o := range m.Options {
			lower, ok := strings.CutPrefix(o, "lowerdir=")
			if !ok {
				continue
			}
			for _, d := range strings.Split(lower, ":") {
				n, lerr := filesSize(d)
				if lerr != nil && !errors.Is(lerr, fs.ErrNotExist) {
					if err == nil {
						err = fmt.Errorf("measuring container %s: %w", shortID(c.ID), lerr)
					}
					continue
				}
				rootfs += n
			}
		}
	}
	return rw, rootfs, err
}

// asJSONValue is v as encoding/json writes it, read back into maps, slices and json.Numbers.
func asJSONValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// readCard reads the process card of running container c: the process from /proc, its cgroup,
// and its root mount with each layer dir mapped to its blob in the image store.
func readCard(g *globals, c *runner.Container) (*proccard.Card, error) {
	pid := c.RunningPid()
	if pid == 0 {
		return nil, proccard.ErrNoProcess
	}
	opts := proccard.Options{Root: c.Config.Spec.Root, Layers: layerBlobs(g, c)}
	cg, err := cgroups.Load(c.CgroupKey())
	switch {
	case err == nil:
		defer cg.Release() // and its hold: see cgroups.Sweep
		opts.Cgroup = cg
	case !errors.Is(err, cgroups.ErrNotFound):
		return nil, err
	}
	// Held from the check that pid is the container's to the end of the read: a pid taken
	// by a host process once the container exited would be described as the container.
	card, err := proccard.ReadOf(pid, func() bool { return c.RunningPid() == pid }, opts)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", shortID(c.ID), err)
	}
	return card, nil
}

// layerBlobs maps the DiffIDs of c's image to their compressed blobs. The image is the one
// the container recorded, by its ID: named or dangling, the collection keeps it while the
// container exists. The name it was made from is never asked: once that tag moved, it named
// another image's blobs. An image that cannot be found (a container made before strata
// recorded image IDs) gives an empty map: the card then names the layers by DiffID only.
func layerBlobs(g *globals, c *runner.Container) map[string]proccard.Blob {
	out := map[string]proccard.Blob{}
	id, err := v1.NewHash(c.Config.ImageID)
	if err != nil {
		return out
	}
	store, err := g.openStore()
	if err != nil {
		return out
	}
	// The full ID, which only this image has: no prefix, no name.
	ref, err := store.FindImageWith(id.String(), []v1.Hash{id})
	if err != nil {
		return out
	}
	info, err := store.Info(ref)
	if err != nil {
		return out
	}
	diffIDs := info.Config.RootFS.DiffIDs
	for i, l := range info.Layers {
		if i < len(diffIDs) {
			out[diffIDs[i].String()] = proccard.Blob{Digest: l.Digest.String(), Size: l.Size}
		}
	}
	return out
}

// printJSONArray prints items as docker inspect does: an indented JSON array, "[]" when empty;
// with compact (--format json, as docker's JSONInspector) the array on one line.
func printJSONArray[T any](w io.Writer, items []T, compact bool) error {
	if items == nil {
		items = []T{}
	}
	b, err := json.MarshalIndent(items, "", "    ")
	if compact {
		b, err = json.Marshal(items)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
