package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/runner"
)

// psRow is one line of `strata ps`, and what --format templates see: docker's placeholders
// (formatter/container.go's ContainerContext), as the strings docker prints for them. printPs
// truncates ID, Command and Mounts and quotes Command as docker does, unless --no-trunc.
type psRow struct {
	ID      string
	Image   string
	Command string
	// CreatedAt prints as docker's ("2006-01-02 15:04:05 -0700 MST", to the second).
	CreatedAt    psTime
	RunningFor   string
	Ports        string
	State        string
	Status       string
	Size         string
	Names        string
	Labels       string
	Mounts       string
	Networks     string
	LocalVolumes string
	// Pid and ExitCode are strata's own: docker has no placeholder for them.
	Pid      int
	ExitCode int
	imageID  string            // for the ancestor filter
	labels   map[string]string // for {{.Label}} and the label filter
	mounts   []string          // Mounts before truncation
	targets  []string          // where each mount goes, for the volume filter
	health   string            // docker's health status, or none, for the health filter
}

// Label is {{.Label "key"}}: the value of one of the container's labels, quoted as psText
// quotes it (an image's author writes them).
func (r psRow) Label(key string) string { return psText(r.labels[key]) }

// MarshalJSON is ps --format json's line: docker's {{json .}} of its container formatter's
// row (docker/cli cli/command/formatter/container.go through formatter.MarshalJSON), its
// placeholders as strings, keys sorted. Pid and ExitCode, strata's own, are for templates
// only: docker's line has no such keys.
func (r psRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"Command": r.Command, "CreatedAt": r.CreatedAt.String(), "ID": r.ID, "Image": r.Image,
		"Labels": r.Labels, "LocalVolumes": r.LocalVolumes, "Mounts": r.Mounts, "Names": r.Names,
		"Networks": r.Networks, "Ports": r.Ports, "RunningFor": r.RunningFor, "Size": r.Size,
		"State": r.State, "Status": r.Status,
	})
}

func (psRow) headers() map[string]string {
	return map[string]string{"ID": "CONTAINER ID", "RunningFor": "CREATED", "Size": "SIZE"}
}

// psTime is a time that templates print as docker's ps prints CreatedAt: Go's time.Time
// String to the second, in local time; JSON has the same string.
type psTime struct{ time.Time }

func (t psTime) String() string { return t.Truncate(time.Second).Local().String() }

func (t psTime) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// psRaw is docker ps --format raw: a block of "key: value" lines for each container, a blank
// line after each; -s adds "size: …", -q leaves only "container_id: …".
const psRaw = `container_id: {{.ID}}
image: {{.Image}}
command: {{.Command}}
created_at: {{.CreatedAt}}
state: {{- pad .State 1 0}}
status: {{- pad .Status 1 0}}
names: {{.Names}}
labels: {{- pad .Labels 1 0}}
ports: {{- pad .Ports 1 0}}
`

// psTable is docker ps's default table; -s adds SIZE.
const psTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

func newPsCmd(g *globals) *cobra.Command {
	var all, quiet, noTrunc, latest, size bool
	var format string
	var filters []string
	last := -1
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			filter, err := parsePsFilter(filters)
			if err != nil {
				return err
			}
			store, err := g.openContainers()
			if err != nil {
				return err
			}
			if err := filter.resolve(store); err != nil {
				return err
			}
			filter.resolveAncestors(g)
			list, err := store.List()
			if err != nil {
				return err
			}
			// --rm containers whose run was killed go now, as docker never shows them; and
			// the cgroups of killed runs. Best effort: what stays is listed as it is.
			list, _ = store.RemoveOrphans(list)
			_ = runner.SweepCgroups()
			if latest && last == -1 {
				// -n, when given, wins over -l, as docker's client reads them: `ps -l -n 2`
				// showed one container.
				last = 1
			}
			// As docker, a template that shows .Size measures it without -s.
			size = size || (!quiet && strings.Contains(format, ".Size"))
			// As docker: newest first, and -n/-l count containers of every state.
			slices.Reverse(list)
			var rows []psRow
			for _, c := range list {
				if last > 0 && len(rows) == last {
					break
				}
				if !all && last <= 0 && !filter.impliesAll() && !c.State.Running() && !c.State.Restarting {
					continue
				}
				r := newPsRow(c)
				if !filter.match(r) {
					continue
				}
				if size {
					rw, rootfs, err := containerSizes(g, c)
					if err != nil {
						// Shown as 0 with a warning, as docker logs it and lists the
						// others: one container's error failed ps -s for all.
						warnSize(cmd.ErrOrStderr(), c, err)
					}
					r.Size = humanSize(rw)
					if rootfs > 0 {
						r.Size += " (virtual " + humanSize(rootfs) + ")"
					}
				}
				rows = append(rows, r)
			}
			if !quiet {
				showImageIDs(g, rows)
			}
			if size && tableDefault(format) {
				format = psTable + "\t{{.Size}}"
			}
			if size && !quiet && strings.TrimSpace(format) == "raw" {
				format = psRaw + "size: {{.Size}}\n"
			}
			if quiet && !tableDefault(format) {
				// docker ps says so too: -q wins, and a script's format is not what it gets.
				fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: Ignoring custom format, because both --format and --quiet are set.")
			}
			return printPs(cmd.OutOrStdout(), rows, quiet, noTrunc, format)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	f.BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "show whole IDs and commands")
	f.IntVarP(&last, "last", "n", -1, "show the n last created containers (of every state)")
	f.BoolVarP(&latest, "latest", "l", false, "show the latest created container (of every state)")
	f.BoolVarP(&size, "size", "s", false, "show the size of each container's writes")
	f.StringVar(&format, "format", "", "table, json, raw, or a Go template such as '{{.ID}} {{.Names}}'")
	stringArrayVar(f, &filters, "filter", "f", nil, "show only containers that match: id=, name= (a regular expression), status=, exited=, ancestor=, before=, since=, network=, volume=, label=, health= (starting, healthy, unhealthy or none), publish=, expose=, is-task= or isolation= (repeatable; with no published ports or tasks, publish=, expose= and is-task=true match nothing)")
	return cmd
}

func newPsRow(c *runner.Container) psRow {
	st := c.State
	r := psRow{
		ID:         c.ID,
		Image:      psText(c.Config.Image),
		Command:    psCommand(c.Config.Spec.Args),
		CreatedAt:  psTime{c.Config.Created},
		RunningFor: humanSince(c.Config.Created),
		State:      string(st.Status),
		Size:       "0B",
		Pid:        st.Pid,
		ExitCode:   st.ExitCode,
		Names:      c.Name(),
		Networks:   psText(c.Config.Spec.Network),
		imageID:    c.Config.ImageID,
		Labels:     psLabels(c.Config.Labels),
		labels:     c.Config.Labels,
	}
	// Read only for a container whose healthcheck runs: ps reads no more files for others.
	health := runner.ReadHealth(c)
	r.health = runner.HealthNone
	if health != nil {
		r.health = health.Status
	}
	if r.Networks == "" {
		r.Networks = runner.NetworkNone
	}
	if _, joined := runner.NSContainer(r.Networks); joined {
		r.Networks = "" // on another's network it has none of its own, as docker's ps shows it
	}
	// Mounts names each volume by its name and each other mount by its source, as docker;
	// LocalVolumes counts the volumes (docker's local driver).
	volumes := 0
	for _, m := range c.Config.Spec.Mounts {
		r.targets = append(r.targets, m.Target)
		switch {
		case m.Type == runner.TypeVolume:
			volumes++
			r.mounts = append(r.mounts, runner.MountVolumeName(c.ID, m))
		case m.Source != "" && m.Type != "tmpfs":
			r.mounts = append(r.mounts, psText(m.Source))
		}
	}
	r.LocalVolumes = strconv.Itoa(volumes)
	switch {
	case c.Broken != nil:
		// Its files cannot be read (runner.ErrBroken): docker's word for a container that
		// can only be removed. The state of a broken container that still runs is kept for
		// stop and rm -f, but its config is not there to run it again.
		r.State = string(runner.StatusDead)
		r.Status = "Dead"
	case st.Status == runner.StatusRunning: // exiting, when not st.Running()
		r.State = string(runner.StatusRunning)
		r.Status = "Up " + humanDuration(time.Since(st.StartedAt))
		if runner.Paused(c) {
			r.State, r.Status = "paused", r.Status+" (Paused)"
		} else if h := runner.HealthString(health); h != "" {
			r.Status += " " + h // as docker's: "Up 3 seconds (healthy)"
		}
	case st.Restarting:
		// In its restart policy's backoff, as docker shows it.
		r.State = "restarting"
		r.Status = fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, humanDuration(time.Since(st.FinishedAt)))
	case st.Status == runner.StatusCreated || st.NeverStarted():
		r.State, r.Status = string(runner.StatusCreated), "Created"
	default:
		r.State = string(runner.StatusExited)
		r.Status = fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, humanDuration(time.Since(st.FinishedAt)))
		if st.FinishedAt.IsZero() {
			r.Status = fmt.Sprintf("Exited (%d)", st.ExitCode)
		}
	}
	return r
}

// psLabels is {{.Labels}}: "key=value" for each label, sorted, joined by commas, each quoted
// by psText when it holds what a terminal would act on.
func psLabels(labels map[string]string) string {
	list := runner.LabelList(labels)
	for i, l := range list {
		list[i] = psText(l)
	}
	return strings.Join(list, ",")
}

// psText is a value of a container's config.json as ps shows it: as it is, or quoted with Go
// escapes when it holds what acts on a terminal (control characters, bytes that are not
// UTF-8). Strata writes none there, but a hand-edited config.json had ps print its escapes
// and line breaks raw into the table.
func psText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unprintable) {
		return s
	}
	return strconv.Quote(s)
}

// printPs prints rows as docker ps: IDs, or the default table, json (one object a line), raw,
// or a template; "table" before a template lines its columns up under a header.
func printPs(w io.Writer, rows []psRow, quiet, noTrunc bool, format string) error {
	id := shortID
	if noTrunc {
		id = func(s string) string { return s }
	}
	raw := strings.TrimSpace(format) == "raw"
	if quiet {
		for _, r := range rows {
			if raw {
				fmt.Fprint(w, "container_id: ")
			}
			fmt.Fprintln(w, id(r.ID))
		}
		return nil
	}
	// Every format shows the values as the table does, as docker's do: the command quoted
	// and, unless --no-trunc, IDs, commands and mount names cut short.
	rows = slices.Clone(rows)
	for i := range rows {
		r := &rows[i]
		r.ID = id(r.ID)
		mounts := slices.Clone(r.mounts)
		if !noTrunc {
			r.Image = shortImage(r.Image)
			r.Command = ellipsis(r.Command, 20)
			for j := range mounts {
				mounts[j] = ellipsis(mounts[j], 15)
			}
		}
		r.Command = strconv.Quote(r.Command)
		r.Mounts = strings.Join(mounts, ",")
	}
	if strings.TrimSpace(format) == "json" {
		for _, r := range rows {
			s, err := templateJSON(r)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, s)
		}
		return nil
	}
	if tableDefault(format) {
		format = psTable
	}
	if raw {
		format = psRaw
	}
	return writeTemplate(w, format, rows)
}

// showImageIDs sets the IMAGE of each row as docker's ps shows it: the name the container was
// created from while that name still names the container's image, else the image's ID
// (sha256:…, cut to 12 hex digits unless --no-trunc). Once the tag moved to another image, or
// the image was removed, the name would say the container runs an image it does not. The
// store unreadable, the names are left as they are.
func showImageIDs(g *globals, rows []psRow) {
	if len(rows) == 0 {
		return
	}
	store, err := g.openStore()
	if err != nil {
		return
	}
	names := map[[2]string]bool{}
	for i := range rows {
		r := &rows[i]
		if r.imageID == "" || r.Image == "" || r.Image == r.imageID {
			continue
		}
		key := [2]string{r.Image, r.imageID}
		ok, seen := names[key]
		if !seen {
			ok = namesImage(store, r.Image, r.imageID)
			names[key] = ok
		}
		if !ok {
			r.Image = r.imageID
		}
	}
}

// namesImage reports whether name (a reference or an ID prefix, as the user gave it to run)
// finds in the store the image whose ID is id: the image itself, or an index listing it.
func namesImage(store *cache.Store, name, id string) bool {
	ref, err := findRef(store, name)
	if err != nil {
		return false
	}
	info, err := store.Info(ref)
	if err != nil {
		info = store.DescribeDamaged(ref, err)
	}
	if info.ID.String() == id {
		return true
	}
	for _, p := range info.Platforms {
		if p.ID.String() == id {
			return true
		}
	}
	return false
}

// psCommand is a container's command as docker's ps shows it: the program, then each
// argument, in single quotes when it has a space ("sh -c 'sleep 1000'"), as docker's daemon
// words it for its container list (no other quoting, nor escaping). The arguments were
// joined bare, so that "sh -c 'sleep 1; echo hi'" showed as "sh -c sleep 1; echo hi".
func psCommand(args []string) string {
	if len(args) == 0 {
		return ""
	}
	words := []string{args[0]}
	for _, a := range args[1:] {
		if strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

// shortImage is how docker ps shows an image unless --no-trunc: an image ID as its 12-hex
// short form, a reference without its digest ("alpine@sha256:…" as "alpine").
func shortImage(image string) string {
	if strings.HasPrefix(image, "sha256:") {
		return shortID(image)
	}
	if name, _, ok := strings.Cut(image, "@"); ok && name != "" {
		return name
	}
	return image
}

// ellipsis cuts s to at most n runes, its last one "…" when it was cut, as docker's
// formatter.Ellipsis (which counts display width; strata counts runes).
func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// humanDuration words d as docker does (go-units' HumanDuration), for ps's STATUS and the
// CREATED columns: "5 seconds", "About a minute", "3 hours", "2 weeks".
func humanDuration(d time.Duration) string {
	seconds := int(d.Seconds())
	minutes := int(d.Minutes())
	hours := int(d.Hours() + 0.5)
	switch {
	case seconds < 1:
		return "Less than a second"
	case seconds < 60:
		return plural(seconds, "second")
	case minutes == 1:
		return "About a minute"
	case minutes < 60:
		return plural(minutes, "minute")
	case hours == 1:
		return "About an hour"
	case hours < 48:
		return plural(hours, "hour")
	case hours < 24*7*2:
		return plural(hours/24, "day")
	case hours < 24*30*2:
		return plural(hours/24/7, "week")
	case hours < 24*365*2:
		return plural(hours/24/30, "month")
	}
	return plural(int(d.Hours())/24/365, "year")
}
