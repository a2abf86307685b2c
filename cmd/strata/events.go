package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/cache"

	"github.com/strata-run/strata/internal/events"
	"github.com/strata-run/strata/registry"
)

// imageEvent logs an image event (pull, push, tag, untag, delete, load, save, import) about
// id, whose name attribute is name, as docker's daemon logs it. Best effort.
func imageEvent(g *globals, action, id, name string) {
	events.Append(g.root, events.New(events.Image, action, id, map[string]string{"name": name}))
}

// volumeEvent logs a volume event (create, destroy) about the volume name, with its driver,
// as docker's daemon logs them. Best effort.
func volumeEvent(g *globals, action, name string) {
	events.Append(g.root, events.New(events.Volume, action, name, map[string]string{"driver": "local"}))
}

// pruneEvent logs the prune event docker's daemon logs once a prune of typ (container,
// volume) is done: no actor, the bytes it freed as "reclaimed". Best effort.
func pruneEvent(g *globals, typ string, freed int64) {
	events.Append(g.root, events.New(typ, "prune", "", map[string]string{"reclaimed": strconv.FormatInt(freed, 10)}))
}

// refEvent logs an event about a reference, as docker's pull and push name the image: the
// familiar reference as ID ("alpine:latest"), its repository as the name.
func refEvent(g *globals, action, arg string) {
	ref, err := registry.ParseReference(arg)
	if err != nil {
		return
	}
	imageEvent(g, action, ref.Familiar(), ref.FamiliarName())
}

// eventsPoll is how often `events` looks for new lines while it follows the log: a daemonless
// log has no one to push them, and a stat and a read every tenth of a second cost nothing.
const eventsPoll = 100 * time.Millisecond

type eventsOptions struct {
	since, until string
	filters      []string
	format       string
}

// newEventsCmd is docker events over strata's event log (internal/events): the events since
// --since, then those that come, until --until or an interrupt.
func newEventsCmd(g *globals) *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Show what strata commands did to containers and images, and follow new events",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvents(cmd.Context(), g, o, time.Now(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.since, "since", "", "show the events since this time (a time, a Unix time, or a duration such as 10m)")
	f.StringVar(&o.until, "until", "", "stop at this time (as --since); without it, follow until interrupted")
	stringArrayVar(f, &o.filters, "filter", "f", nil, "type=container|image|volume, event=ACTION, container=ID|NAME, image=NAME|ID, volume=NAME, label=KEY[=VALUE] (a container's label) (repeatable; values of one key are alternatives, but every label= must match)")
	f.StringVar(&o.format, "format", "", "a Go template over docker's event JSON ('{{.Action}} {{.Actor.ID}}'), or json")
	return cmd
}

// eventFilter is --filter: each key's values are alternatives, every key must match.
type eventFilter map[string][]string

// eventFilterKeys are the keys strata's events have (docker's others name objects strata
// has not: networks, volumes, plugins, daemons).
var eventFilterKeys = []string{"container", "event", "image", "label", "type", "volume"}

func parseEventFilter(args []string) (eventFilter, error) {
	f := eventFilter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid --filter %s: want KEY=VALUE", quoteValue(a))
		}
		k = strings.ToLower(k)
		known := false
		for _, key := range eventFilterKeys {
			known = known || key == k
		}
		if !known {
			return nil, fmt.Errorf("invalid --filter %s: unknown key %s (want %s)", quoteValue(a), quoteValue(k), strings.Join(eventFilterKeys, ", "))
		}
		if k == "type" && v != events.Container && v != events.Image && v != events.Volume {
			return nil, fmt.Errorf("invalid --filter %s: type is container, image or volume", quoteValue(a))
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// match is docker's event filter (moby daemon/events/filter.go): the type and the action
// exactly (an action "exec_create: ls" as "exec_create"), a container by its ID or name
// (prefixes too), an image by ID or name with or without its tag: values of one key are
// alternatives; and labels on the actor's attributes, all of them.
func (f eventFilter) match(m events.Message) bool {
	any := func(key string, ok func(string) bool) bool {
		vals, set := f[key]
		if !set {
			return true
		}
		for _, v := range vals {
			if ok(v) {
				return true
			}
		}
		return false
	}
	action, _, _ := strings.Cut(m.Action, ":")
	attrs := m.Actor.Attributes
	return any("type", func(v string) bool { return v == m.Type }) &&
		any("event", func(v string) bool { return v == m.Action || v == action }) &&
		any("container", func(v string) bool {
			return m.Type == events.Container && v != "" &&
				(strings.HasPrefix(m.Actor.ID, v) || attrs["name"] == v)
		}) &&
		any("volume", func(v string) bool { return m.Type == events.Volume && v != "" && strings.HasPrefix(m.Actor.ID, v) }) &&
		any("image", func(v string) bool {
			name := attrs["image"]
			if m.Type == events.Image {
				name = attrs["name"]
			}
			return v != "" && (v == m.Actor.ID || v == name || v == stripTag(m.Actor.ID) || v == stripTag(name))
		}) &&
		// Labels, as docker's MatchKVList: every one given must be there.
		!slices.ContainsFunc(f["label"], func(v string) bool {
			k, want, hasValue := strings.Cut(v, "=")
			got, ok := attrs[k]
			return !ok || (hasValue && got != want)
		})
}

// stripTag is name without its :tag (a registry's port stays).
func stripTag(name string) string {
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		return name[:i]
	}
	return name
}

// eventLine is docker's default line for an event: its time (local, nanoseconds), type,
// action, actor ID and attributes sorted by key.
func eventLine(m events.Message) string {
	var b strings.Builder
	b.WriteString(m.When().Format("2006-01-02T15:04:05.000000000Z07:00"))
	fmt.Fprintf(&b, " %s %s %s", m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(m.Actor.Attributes))
		for k := range m.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			sep := ", "
			if i == 0 {
				sep = " ("
			}
			fmt.Fprintf(&b, "%s%s=%s", sep, k, m.Actor.Attributes[k])
		}
		b.WriteString(")")
	}
	// What another process wrote: no escape sequence of it reaches the terminal.
	return escapeUnprintable(b.String())
}

// eventPrinter prints one event as --format asks.
func eventPrinter(format string, out io.Writer) (func(events.Message) error, error) {
	switch {
	case format == "":
		return func(m events.Message) error {
			_, err := fmt.Fprintln(out, eventLine(m))
			return err
		}, nil
	case format == "json":
		format = "{{json .}}"
	}
	// Parsed once here, so a bad template fails before anything is read.
	if _, _, err := renderTemplate(format, []events.Message(nil)); err != nil {
		return nil, err
	}
	return func(m events.Message) error {
		b, _, err := renderTemplate(format, []events.Message{m})
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}, nil
}

func runEvents(ctx context.Context, g *globals, o eventsOptions, now time.Time, out io.Writer) error {
	since, err := parseLogTime("--since", o.since, now)
	if err != nil {
		return err
	}
	until, err := parseLogTime("--until", o.until, now)
	if err != nil {
		return err
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return fmt.Errorf("invalid --until %s: before --since", quoteValue(o.until))
	}
	filter, err := parseEventFilter(o.filters)
	if err != nil {
		return err
	}
	print, err := eventPrinter(o.format, out)
	if err != nil {
		return err
	}
	var stop error
	emit := func(m events.Message) bool {
		t := m.When()
		if !since.IsZero() && t.Before(since) || !filter.match(m) {
			return true
		}
		if !until.IsZero() && t.After(until) {
			return true
		}
		if err := print(m); err != nil {
			stop = err
			return false
		}
		return true
	}
	path := filepath.Join(g.root, events.File)
	// A damaged store (a symlink, a FIFO, a directory in place of a log): that log is
	// skipped with one warning, never followed nor waited on, and the other is still read;
	// a current log that is a regular file again later is followed from then.
	warned := map[string]bool{}
	open := func(p string) (*os.File, error) {
		f, err := events.Open(p)
		if errors.Is(err, events.ErrNotRegular) {
			if !warned[p] {
				warned[p] = true
				fmt.Fprintln(os.Stderr, oneLine(fmt.Sprintf("strata: warning: %v: its events are skipped", err)))
			}
			return nil, nil
		}
		return f, err
	}
	if !since.IsZero() {
		// The rotated generation holds the older events.
		old, err := open(filepath.Join(g.root, events.Rotated))
		if err != nil {
			return fmt.Errorf("reading events: %w", err)
		}
		if old != nil {
			err := eventsTail(old).Poll(emit)
			old.Close()
			if err != nil {
				return fmt.Errorf("reading events: %w", err)
			}
			if stop != nil {
				return stop
			}
		}
	}
	f, err := open(path)
	if err != nil {
		return fmt.Errorf("reading events: %w", err)
	}
	var t *events.Tail
	defer func() {
		if t != nil {
			t.File().Close()
		}
	}()
	if f != nil {
		if since.IsZero() {
			// As docker's: without --since, only the events to come.
			if _, err := f.Seek(0, io.SeekEnd); err != nil {
				return fmt.Errorf("reading events: %w", err)
			}
		}
		t = eventsTail(f)
	}
	// Past events end where --until is in the past: nothing to wait for.
	follow := until.IsZero() || until.After(time.Now())
	for {
		if t != nil {
			if err := t.Poll(emit); err != nil {
				return fmt.Errorf("reading events: %w", err)
			}
			if stop != nil {
				return stop
			}
		}
		if !follow || !until.IsZero() && time.Now().After(until) {
			return nil
		}
		wait := eventsPoll
		if !until.IsZero() {
			wait = min(wait, time.Until(until)+time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return nil // docker events ends on Ctrl-C with status 0
		case <-time.After(max(wait, time.Millisecond)):
		}
		// Rotated (or made) since: the old file's rest was read above; the new one is read whole.
		if t2, err := reopenEvents(path, t, open); err != nil {
			return fmt.Errorf("reading events: %w", err)
		} else if t2 != t {
			if t != nil {
				if err := t.Poll(emit); err == nil && stop == nil {
					t.File().Close()
				}
			}
			t = t2
		}
		if stop != nil {
			return stop
		}
	}
}

// reopenEvents returns a Tail of the log at path, opened with open, when path names another
// file than t reads (rotated, or made since): else t.
func reopenEvents(path string, t *events.Tail, open func(string) (*os.File, error)) (*events.Tail, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return t, nil
		}
		return t, err
	}
	if t != nil {
		var cur syscall.Stat_t
		if err := syscall.Fstat(int(t.File().Fd()), &cur); err == nil && cur.Dev == st.Dev && cur.Ino == st.Ino {
			return t, nil
		}
	}
	f, err := open(path)
	if err != nil || f == nil {
		return t, err
	}
	return eventsTail(f), nil
}

// eventsTail is events.NewTail, with a warning when the log is too big to be one strata
// wrote and only its end is read.
func eventsTail(f *os.File) *events.Tail {
	t := events.NewTail(f)
	if n := t.Skipped(); n > 0 {
		fmt.Fprintln(os.Stderr, oneLine(fmt.Sprintf("strata: warning: %s: its first %s were skipped: it is far past the %s at which strata rotates it", f.Name(), humanSize(n), humanSize(events.MaxSize))))
	}
	return t
}

// imageRemovalEvents logs what rmi and prune did to images, as docker's daemon logs it: an
// untag for each name removed (images without a Ref are dangling ones: no untag), and a
// delete for each image whose config the collection gb removed.
func imageRemovalEvents(g *globals, untagged []cache.ImageInfo, gb garbage) {
	removed := map[v1.Hash]bool{}
	for _, b := range gb.Blobs {
		removed[b.Digest] = true
	}
	said := map[v1.Hash]bool{}
	for _, info := range untagged {
		id := info.ID.String()
		if info.Ref != "" {
			imageEvent(g, "untag", id, id)
		}
		if removed[info.ID] && !said[info.ID] {
			said[info.ID] = true
			imageEvent(g, "delete", id, id)
		}
	}
}

// danglingBefore are the images no name reaches, read before a prune's collection removes
// them; none when the store cannot say.
func danglingBefore(g *globals) []cache.ImageInfo {
	store, err := g.openStore()
	if err != nil {
		return nil
	}
	un, _ := store.Unreached()
	return un
}
