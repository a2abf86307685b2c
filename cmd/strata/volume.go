package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/internal/events"
	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/snapshotter"
)

// Named volumes: docker's `volume` commands over <root>/volumes (runner.VolumeStore), and
// what run and create do for a -v NAME:/path or --mount type=volume,source=NAME.
//
// Anonymous volumes (-v /path, an image's VOLUME) are not in the store: they live in their
// container's dir and go with it (rm, rm -v and run --rm alike), so `volume ls` does not list
// them, until a --volumes-from shares them with another container: they are then moved into
// the store with docker's anonymous label (runner.ShareAnonymousVolumes), listed, and removed
// with the last container that mounts them, or by `volume prune` without -a, which docker ≥ 23
// limits to anonymous volumes; `volume prune -a` removes every volume no container uses. A
// `volume create` without a name makes one with that label too, as docker's does.

func (g *globals) volumeStore() *runner.VolumeStore {
	return runner.OpenVolumeStore(runner.VolumesDirOf(g.containersDir()))
}

// prepareNamedVolumes makes the named volumes mounts use that do not exist yet (docker's
// local driver makes them on first use) and points each mount at its volume's data dir. It
// holds the volume store's lock shared until release, which the caller calls once the
// container is recorded: a `volume rm` waits for it, and then sees the container use them.
func prepareNamedVolumes(ctx context.Context, g *globals, vs *runner.VolumeStore, mounts []mount.Mount) (names []string, release func(), err error) {
	release = func() {}
	if !slices.ContainsFunc(mounts, func(m mount.Mount) bool { _, ok := runner.NamedVolume(m); return ok }) {
		return nil, release, nil
	}
	unlock, err := vs.Lock(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	if names, err = runner.ResolveNamedVolumes(mounts, vs); err != nil {
		unlock()
		return nil, nil, err
	}
	labels := map[string]map[string]string{} // --mount volume-label=, for a volume made now
	for _, m := range mounts {
		if name, ok := runner.NamedVolume(m); ok {
			for k, v := range runner.VolumeLabels(m) {
				if labels[name] == nil {
					labels[name] = map[string]string{}
				}
				labels[name][k] = v
			}
		}
	}
	// A volume another container lends (--volumes-from) is mounted as it is: one removed
	// meanwhile (its last user went) is not made again, empty.
	for _, m := range mounts {
		name, named := runner.NamedVolume(m)
		from, lent := runner.VolumesFrom(m)
		if !named || !lent {
			continue
		}
		if _, err := vs.Get(name); err != nil {
			unlock()
			if errors.Is(err, runner.ErrNoSuchVolume) {
				err = fmt.Errorf("--volumes-from: the volume %s that container %s mounts is gone", name, shortID(from))
			}
			return nil, nil, err
		}
	}
	for _, name := range names {
		if err := refuseAnonymousName(g, vs, name); err != nil {
			unlock()
			return nil, nil, err
		}
		_, created, err := vs.Create(name, labels[name])
		if err != nil {
			unlock()
			return nil, nil, err
		}
		if created {
			volumeEvent(g, "create", name) // docker's local driver makes it on first use
		}
	}
	return names, unlock, nil
}

// copyUpVolumes copies the image's content at each named volume's path into the volume when
// it is empty, as docker does, unless the mount says nocopy. Each volume's lock makes one copy
// of two runs that mount the same new volume at once: the second finds it filled.
func copyUpVolumes(ctx context.Context, snap *snapshotter.Snapshotter, dir string, diffIDs []v1.Hash, vs *runner.VolumeStore, mounts []mount.Mount) error {
	for _, m := range mounts {
		name, ok := runner.NamedVolume(m)
		if _, lent := runner.VolumesFrom(m); !ok || lent || runner.VolumeNoCopy(m) {
			continue // docker copies nothing into a volume another container lends
		}
		if err := copyUpVolume(ctx, snap, dir, diffIDs, vs, name, m.Target); err != nil {
			return fmt.Errorf("volume %s: %w", name, err)
		}
	}
	return nil
}

func copyUpVolume(ctx context.Context, snap *snapshotter.Snapshotter, dir string, diffIDs []v1.Hash, vs *runner.VolumeStore, name, target string) error {
	unlock, err := vs.LockVolume(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	// A copy cut short (a killed run) left its temp dir beside _data: under the lock, no
	// copy is at work. The dir is read, not globbed: a store path holding a '[' would be
	// read as a pattern, and "/s[ab]" matched /sa's and /sb's volumes.
	vdir := filepath.Dir(vs.DataDir(name))
	ents, _ := os.ReadDir(vdir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".copyup-") {
			_ = os.RemoveAll(filepath.Join(vdir, e.Name()))
		}
	}
	empty, err := vs.Empty(name)
	if err != nil || !empty {
		return err
	}
	_, err = snap.CopyUp(ctx, dir, diffIDs, target, vs.DataDir(name))
	return err
}

// refuseAnonymousName refuses to make a named volume called name, when no volume has that
// name yet and it is the name inspect gives a container's anonymous volume. Such a volume
// lives in its container's dir, which no other container mounts: a volume made under its name
// was a new, empty one, so docker's way to reach an anonymous volume (run -v NAME:/backup
// ... tar) found nothing in it, without a word.
func refuseAnonymousName(g *globals, vs *runner.VolumeStore, name string) error {
	if len(name) != 64 || strings.Trim(name, "0123456789abcdef") != "" {
		return nil
	}
	if _, err := vs.Get(name); !errors.Is(err, runner.ErrNoSuchVolume) {
		return nil // there (or damaged, which Create says)
	}
	store, err := g.openContainers()
	if err != nil {
		return err
	}
	list, err := store.List()
	if err != nil {
		return err
	}
	for _, c := range list {
		for _, m := range c.Config.Spec.Mounts {
			if _, named := runner.NamedVolume(m); m.Type == runner.TypeVolume && !named && m.Source != "" && runner.VolumeName(c.ID, m.Source) == name {
				return fmt.Errorf("volume %s is the anonymous volume of container %s (at %s), in that container's dir: --volumes-from %s mounts it (strata cp copies out of it)",
					name, shortID(c.ID), quoteValue(m.Target), shortID(c.ID))
			}
		}
	}
	return nil
}

// volumeUsers maps each named volume the store's containers mount to their IDs, oldest first.
func volumeUsers(g *globals) (map[string][]string, error) {
	store, err := g.openContainers()
	if err != nil {
		return nil, err
	}
	list, err := store.List()
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, c := range list {
		for _, m := range c.Config.Spec.Mounts {
			name, ok := runner.NamedVolume(m)
			if !ok && m.Type == runner.TypeVolume && m.Source != "" {
				// An anonymous volume its config still places in its dir: a share cut short
				// (runner.ShareAnonymousVolumes) may have moved its data into the store, under
				// this name, before it recorded that; the next share takes it up.
				name, ok = runner.VolumeName(c.ID, m.Source), true
			}
			if ok && !slices.Contains(users[name], c.ID) {
				users[name] = append(users[name], c.ID)
			}
		}
	}
	return users, nil
}

func newVolumeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume",
		Short: "Manage named volumes: create, ls, inspect, rm, prune",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newVolumeCreateCmd(g), newVolumeLsCmd(g), newVolumeInspectCmd(g), newVolumeRmCmd(g), newVolumePruneCmd(g))
	return cmd
}

func newVolumeCreateCmd(g *globals) *cobra.Command {
	var name, driver string
	var labels, opts []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume (an existing one of that name is kept as it is)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if name != "" && name != args[0] {
					return fmt.Errorf("conflicting options: either specify --name or provide positional arg, not both")
				}
				name = args[0]
			}
			if driver != "local" {
				return fmt.Errorf("invalid --driver %s: strata has only the local driver", quoteValue(driver))
			}
			if len(opts) > 0 {
				return fmt.Errorf("--opt %s: driver options are %w", quoteValue(opts[0]), runner.ErrUnsupported)
			}
			if name != "" {
				if err := runner.ValidateVolumeName(name); err != nil {
					return err
				}
			}
			l, err := runner.MergeLabels(nil, labels, nil)
			if err != nil {
				return err
			}
			if name == "" {
				// docker's daemon labels the volume it names at random anonymous, which
				// volume prune without -a removes once no container uses it.
				if l == nil {
					l = map[string]string{}
				}
				l[runner.AnonymousVolumeLabel] = ""
			}
			vs := g.volumeStore()
			unlock, err := vs.Lock(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer unlock()
			if err := refuseAnonymousName(g, vs, name); err != nil {
				return err
			}
			v, created, err := vs.Create(name, l)
			if err != nil {
				return err
			}
			if created {
				volumeEvent(g, "create", v.Name)
			}
			fmt.Fprintln(cmd.OutOrStdout(), v.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "the volume's name")
	f.StringVarP(&driver, "driver", "d", "local", "volume driver (local only)")
	stringArrayVar(f, &labels, "label", "l", nil, "set metadata on the volume (key=value)")
	stringArrayVar(f, &opts, "opt", "o", nil, "driver options (not supported)")
	return cmd
}

// volumeRow is one volume as volume ls --format sees it.
type volumeRow struct {
	Driver     string
	Name       string
	Mountpoint string
	Scope      string
	CreatedAt  string
	Labels     string
	labels     map[string]string
}

func (volumeRow) headers() map[string]string {
	return map[string]string{"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE", "Group": "GROUP",
		"Availability": "AVAILABILITY", "Status": "STATUS"}
}

// Links, Size, Group, Availability and Status are N/A, as docker volume ls shows them: its
// list has no usage data (docker system df -v computes it) and no cluster volumes.
func (volumeRow) Links() string        { return "N/A" }
func (volumeRow) Size() string         { return "N/A" }
func (volumeRow) Group() string        { return "N/A" }
func (volumeRow) Availability() string { return "N/A" }
func (volumeRow) Status() string       { return "N/A" }

// MarshalJSON is volume ls --format json's line: docker's {{json .}} of its volume formatter's
// row (docker/cli cli/command/formatter/volume.go through formatter.MarshalJSON), keys
// sorted. CreatedAt, which docker's row has not, is for templates only.
func (r volumeRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"Availability": r.Availability(), "Driver": r.Driver, "Group": r.Group(), "Labels": r.Labels,
		"Links": r.Links(), "Mountpoint": r.Mountpoint, "Name": r.Name, "Scope": r.Scope,
		"Size": r.Size(), "Status": r.Status(),
	})
}

// Label is the value of label key, as docker's {{.Label "key"}}.
func (r volumeRow) Label(key string) string { return r.labels[key] }

// volumeFilter is volume ls's --filter: docker's name (a substring), label (key or
// key=value), dangling and driver; each key ANDs, its values OR.
type volumeFilter struct {
	names, labels, notLabels, drivers []string
	dangling                          *bool
}

func parseVolumeFilter(filters []string) (volumeFilter, error) {
	var f volumeFilter
	for _, s := range filters {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return f, fmt.Errorf("invalid --filter %s: want key=value", quoteValue(s))
		}
		switch strings.ToLower(k) {
		case "name":
			f.names = append(f.names, v)
		case "label":
			f.labels = append(f.labels, v)
		case "label!":
			f.notLabels = append(f.notLabels, v)
		case "driver":
			f.drivers = append(f.drivers, v)
		case "dangling":
			var b bool
			switch strings.ToLower(v) {
			case "true", "1":
				b = true
			case "false", "0":
			default:
				return f, fmt.Errorf("invalid --filter %s: dangling is true or false", quoteValue(s))
			}
			if f.dangling != nil && *f.dangling != b {
				return f, fmt.Errorf("invalid --filter: dangling=true and dangling=false both")
			}
			f.dangling = &b
		default:
			return f, fmt.Errorf("invalid --filter %s: unknown key %s (name, label, label!, dangling, driver)", quoteValue(s), quoteValue(k))
		}
	}
	return f, nil
}

func (f volumeFilter) match(v *runner.Volume, used bool) bool {
	if len(f.names) > 0 && !slices.ContainsFunc(f.names, func(n string) bool { return strings.Contains(v.Name, n) }) {
		return false
	}
	if len(f.drivers) > 0 && !slices.Contains(f.drivers, v.Driver) {
		return false
	}
	for _, l := range f.labels {
		k, val, hasVal := strings.Cut(l, "=")
		got, ok := v.Labels[k]
		if !ok || (hasVal && got != val) {
			return false
		}
	}
	for _, l := range f.notLabels {
		k, val, hasVal := strings.Cut(l, "=")
		if got, ok := v.Labels[k]; ok && (!hasVal || got == val) {
			return false
		}
	}
	return f.dangling == nil || *f.dangling == !used
}

// listVolumes reads every volume of the store; one that cannot be read is told on warn and
// left out.
func listVolumes(vs *runner.VolumeStore, warn io.Writer) ([]*runner.Volume, error) {
	names, err := vs.Names()
	if err != nil {
		return nil, err
	}
	var out []*runner.Volume
	for _, n := range names {
		v, err := vs.Get(n)
		if errors.Is(err, runner.ErrNoSuchVolume) {
			continue // removed meanwhile
		}
		if err != nil {
			fmt.Fprintf(warn, "WARNING: %s\n", oneLine(err.Error()))
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

func newVolumeLsCmd(g *globals) *cobra.Command {
	var quiet bool
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseVolumeFilter(filters)
			if err != nil {
				return err
			}
			list, err := listVolumes(g.volumeStore(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			var users map[string][]string
			if f.dangling != nil {
				if users, err = volumeUsers(g); err != nil {
					return err
				}
			}
			var rows []volumeRow
			for _, v := range list {
				if !f.match(v, len(users[v.Name]) > 0) {
					continue
				}
				var ls []string
				for k, val := range v.Labels {
					ls = append(ls, k+"="+val)
				}
				slices.Sort(ls)
				rows = append(rows, volumeRow{Driver: v.Driver, Name: v.Name, Mountpoint: v.Mountpoint, Scope: v.Scope,
					CreatedAt: v.CreatedAt, Labels: strings.Join(ls, ","), labels: v.Labels})
			}
			w := cmd.OutOrStdout()
			switch {
			case quiet && format == "":
				for _, r := range rows {
					fmt.Fprintln(w, r.Name)
				}
				return nil
			case strings.TrimSpace(format) == "json":
				for _, r := range rows {
					s, err := templateJSON(r)
					if err != nil {
						return err
					}
					fmt.Fprintln(w, s)
				}
				return nil
			case format == "" || tableDefault(format):
				format = "table {{.Driver}}\t{{.Name}}"
			}
			return writeTemplate(w, format, rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "only show volume names")
	stringArrayVar(fl, &filters, "filter", "f", nil, "filter: name=, label=, label!=, dangling=true|false, driver=")
	fl.StringVar(&format, "format", "", "json, table, or a Go template ('{{.Name}}')")
	return cmd
}

func newVolumeInspectCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Show volumes as docker's JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			vs := g.volumeStore()
			list := []*runner.Volume{}
			var errs []string
			for _, name := range args {
				v, err := vs.Get(name)
				if err != nil {
					errs = append(errs, volumeError("get", name, err))
					continue
				}
				list = append(list, v)
			}
			w := cmd.OutOrStdout()
			if format != "" && format != "json" {
				out, _, err := renderTemplate(format, list)
				if err != nil {
					return err
				}
				w.Write(out)
			} else {
				b, err := json.MarshalIndent(list, "", "    ")
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s\n", b)
			}
			if len(errs) > 0 {
				return errors.New(strings.Join(errs, "; "))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "a Go template over each volume ('{{.Mountpoint}}')")
	return cmd
}

// volumeError is docker's "get NAME: no such volume" for op on volume name.
func volumeError(op, name string, err error) string {
	if errors.Is(err, runner.ErrNoSuchVolume) {
		return fmt.Sprintf("%s %s: no such volume", op, quoteArg(name))
	}
	return fmt.Sprintf("%s %s: %s", op, quoteArg(name), err)
}

func newVolumeRmCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove volumes; one a container uses (running or not) is kept",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			vs := g.volumeStore()
			unlock, err := vs.Lock(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer unlock()
			users, err := volumeUsers(g)
			if err != nil {
				return err
			}
			var errs []string
			for _, name := range args {
				if ids := users[name]; len(ids) > 0 {
					errs = append(errs, fmt.Sprintf("remove %s: %s - [%s]", quoteArg(name), runner.ErrVolumeInUse, strings.Join(ids, ", ")))
					continue
				}
				err := vs.Remove(name)
				if force && errors.Is(err, runner.ErrNoSuchVolume) {
					continue
				}
				if err != nil {
					errs = append(errs, volumeError("remove", name, err))
					continue
				}
				volumeEvent(g, "destroy", name)
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			if len(errs) > 0 {
				return errors.New(strings.Join(errs, "; "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "no error for a volume that does not exist")
	return cmd
}

const (
	volumePruneWarning    = "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?"
	volumePruneAllWarning = "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?"
)

func newVolumePruneCmd(g *globals) *cobra.Command {
	var force, all bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused anonymous volumes (those a --volumes-from shared, or volume create made without a name), with -a every volume no container uses",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f, err := parseVolumeFilter(filters)
			if err != nil {
				return err
			}
			if len(f.names) > 0 || len(f.drivers) > 0 || f.dangling != nil {
				return fmt.Errorf("invalid --filter: volume prune takes label= and label!= only")
			}
			if !force {
				q := volumePruneWarning
				if all {
					q = volumePruneAllWarning
				}
				yes, err := confirm(ctx, cmd.InOrStdin(), cmd.OutOrStdout(), q)
				if err != nil || !yes {
					return err
				}
			}
			var deleted []string
			var freed int64
			{
				vs := g.volumeStore()
				unlock, err := vs.Lock(ctx, true)
				if err != nil {
					return err
				}
				defer unlock()
				users, err := volumeUsers(g)
				if err != nil {
					return err
				}
				list, err := listVolumes(vs, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				for _, v := range list {
					if _, anonymous := v.Labels[runner.AnonymousVolumeLabel]; len(users[v.Name]) > 0 || !f.match(v, false) || !all && !anonymous {
						continue
					}
					n, _ := filesSize(v.Mountpoint)
					if err := vs.Remove(v.Name); err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: %s\n", oneLine(err.Error()))
						continue
					}
					volumeEvent(g, "destroy", v.Name)
					deleted = append(deleted, v.Name)
					freed += n
				}
			}
			pruneEvent(g, events.Volume, freed)
			w := cmd.OutOrStdout()
			if len(deleted) > 0 {
				fmt.Fprintln(w, "Deleted Volumes:")
				for _, n := range deleted {
					fmt.Fprintln(w, n)
				}
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "Total reclaimed space: %s\n", dockerHumanSize(freed))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	fl.BoolVarP(&all, "all", "a", false, "remove every unused named volume, not only anonymous ones")
	stringArrayVar(fl, &filters, "filter", "", nil, "label=key[=value], label!=key[=value]")
	return cmd
}

// volumeUsage is one named volume in system df: the containers that use it (docker's LINKS)
// and its size.
type volumeUsage struct {
	Name  string `json:"name"`
	Links int    `json:"links"`
	Size  int64  `json:"size"`
}

// volumesUsage is system df's "Local Volumes" row, as docker's, and its -v rows: the named
// volumes, those some container uses (running or not) active, the others reclaimable (what
// volume prune -a frees). Anonymous volumes are counted in their container's size.
func volumesUsage(g *globals, list []*runner.Container, warn io.Writer) (usageRow, []volumeUsage) {
	row := usageRow{Type: "Local Volumes"}
	links := map[string]int{}
	for _, c := range list {
		seen := map[string]bool{}
		for _, m := range c.Config.Spec.Mounts {
			if name, ok := runner.NamedVolume(m); ok && !seen[name] {
				seen[name] = true
				links[name]++
			}
		}
	}
	vols, err := listVolumes(g.volumeStore(), warn)
	if err != nil {
		fmt.Fprintf(warn, "WARNING: %s\n", oneLine(err.Error()))
	}
	out := []volumeUsage{}
	for _, v := range vols {
		n, err := filesSize(v.Mountpoint)
		if err != nil {
			fmt.Fprintf(warn, "WARNING: measuring volume %s: %s\n", v.Name, oneLine(err.Error()))
		}
		out = append(out, volumeUsage{Name: v.Name, Links: links[v.Name], Size: n})
		row.Total++
		row.Size += n
		if links[v.Name] > 0 {
			row.Active++
		} else {
			row.Reclaimable += n
		}
	}
	return row, out
}

// printVolumesUsage is system df -v's volumes table, as docker's.
func printVolumesUsage(w io.Writer, vols []volumeUsage) error {
	fmt.Fprintln(w, "\nLocal Volumes space usage:")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "VOLUME NAME\tLINKS\tSIZE")
	for _, v := range vols {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", v.Name, v.Links, humanSize(v.Size))
	}
	return tw.Flush()
}
