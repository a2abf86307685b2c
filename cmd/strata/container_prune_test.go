package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/runner"
)

func TestParseContainerPruneFilter(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		args      []string
		until     time.Time
		labels    []string
		notLabels []string
	}{
		{nil, time.Time{}, nil, nil},
		{[]string{"until=10m"}, now.Add(-10 * time.Minute), nil, nil},
		{[]string{"until=1h30m"}, now.Add(-90 * time.Minute), nil, nil},
		{[]string{"until=-5m"}, now.Add(5 * time.Minute), nil, nil}, // docker's GetTimestamp: a time to come
		{[]string{"until=2026-11-29T10:00:00Z"}, time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC), nil, nil},
		{[]string{"until=1700000000"}, time.Unix(1700000000, 0), nil, nil},
		{[]string{"until=1700000000.5"}, time.Unix(1700000000, 5e8), nil, nil},
		{[]string{"label=a", "label=b=2", "label!=c", "label!=d=x=y"}, time.Time{}, []string{"a", "b=2"}, []string{"c", "d=x=y"}},
		{[]string{"label=a=", "until=5s"}, now.Add(-5 * time.Second), []string{"a="}, nil},
	} {
		f, err := parseContainerPruneFilter(tt.args, now)
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if !f.until.Equal(tt.until) || !slices.Equal(f.labels, tt.labels) || !slices.Equal(f.notLabels, tt.notLabels) {
			t.Errorf("%q = until %v labels %q notLabels %q; want %v %q %q", tt.args, f.until, f.labels, f.notLabels, tt.until, tt.labels, tt.notLabels)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"x=1"}, `invalid --filter "x=1": unknown key "x" (want until, label or label!)`},
		{[]string{"status=exited"}, `unknown key "status"`},
		{[]string{"Label=a"}, `unknown key "Label"`},
		{[]string{"until"}, `invalid --filter "until": want KEY=VALUE`},
		{[]string{"until=1h", "until=2h"}, `invalid --filter "until=2h": until given twice`},
		{[]string{"until=soon"}, `invalid --filter until "soon"`},
		{[]string{"until="}, `invalid --filter "until=": want a time or a duration`},
		{[]string{"label="}, `invalid --filter "label=": want label=KEY or label=KEY=VALUE`},
		{[]string{"label!==v"}, `want label!=KEY or label!=KEY=VALUE`},
	} {
		_, err := parseContainerPruneFilter(tt.args, now)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one containing %q", tt.args, err, tt.want)
		}
	}
}

// TestContainerPruneLabels: docker's matchLabels, MatchKVList for label= and label!=: every
// label= must be there (with its value when given), and a container is kept only when it has
// every label!= label; a container without labels passes no label= and every label!=.
func TestContainerPruneLabels(t *testing.T) {
	labels := map[string]string{"a": "1", "b": "2", "e": ""}
	for _, tt := range []struct {
		labels, notLabels []string
		want, wantNone    bool // for labels, and for a container without any
	}{
		{nil, nil, true, true},
		{[]string{"a"}, nil, true, false},
		{[]string{"a=1"}, nil, true, false},
		{[]string{"a=2"}, nil, false, false},
		{[]string{"a="}, nil, false, false},
		{[]string{"e="}, nil, true, false},
		{[]string{"c"}, nil, false, false},
		{[]string{"a", "b=2"}, nil, true, false},
		{[]string{"a", "c"}, nil, false, false},
		{nil, []string{"a"}, false, true},
		{nil, []string{"a=1"}, false, true},
		{nil, []string{"a=2"}, true, true},
		{nil, []string{"c"}, true, true},
		{nil, []string{"a", "c"}, true, true},
		{nil, []string{"a", "b"}, false, true},
		{[]string{"a"}, []string{"b"}, false, false},
		{[]string{"a"}, []string{"c"}, true, false},
	} {
		f := &containerPruneFilter{labels: tt.labels, notLabels: tt.notLabels}
		if got := f.matchLabels(labels); got != tt.want {
			t.Errorf("label=%q label!=%q on %v = %v, want %v", tt.labels, tt.notLabels, labels, got, tt.want)
		}
		if got := f.matchLabels(nil); got != tt.wantNone {
			t.Errorf("label=%q label!=%q on no labels = %v, want %v", tt.labels, tt.notLabels, got, tt.wantNone)
		}
	}
}

func pruneTestContainer(id string, status runner.Status, created time.Time) *runner.Container {
	c := &runner.Container{ID: id}
	c.Config.Name = "n-" + id
	c.Config.Created = created
	c.State.Status = status
	return c
}

func pruneIDs(list []*runner.Container) []string {
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	return ids
}

func TestPrunableContainers(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Oldest first, as Store.List returns them.
	list := []*runner.Container{
		pruneTestContainer("exited-old", runner.StatusExited, t0),
		pruneTestContainer("running", runner.StatusRunning, t0.Add(time.Hour)),
		pruneTestContainer("created", runner.StatusCreated, t0.Add(2*time.Hour)),
		pruneTestContainer("dead", runner.StatusDead, t0.Add(3*time.Hour)),
		pruneTestContainer("labelled", runner.StatusExited, t0.Add(4*time.Hour)),
		pruneTestContainer("running-labelled", runner.StatusRunning, t0.Add(5*time.Hour)),
	}
	labelsOf := func(c *runner.Container) map[string]string {
		if strings.HasSuffix(c.ID, "labelled") {
			return map[string]string{"keep": "no", "team": "x"}
		}
		return nil
	}
	for _, tt := range []struct {
		name string
		f    containerPruneFilter
		want []string
	}{
		{"no filter", containerPruneFilter{}, []string{"labelled", "dead", "created", "exited-old"}},
		{"until between", containerPruneFilter{until: t0.Add(150 * time.Minute)}, []string{"created", "exited-old"}},
		{"until at a creation", containerPruneFilter{until: t0.Add(2 * time.Hour)}, []string{"created", "exited-old"}},
		{"until before all", containerPruneFilter{until: t0.Add(-time.Second)}, nil},
		{"label", containerPruneFilter{labels: []string{"team"}}, []string{"labelled"}},
		{"label value", containerPruneFilter{labels: []string{"team=y"}}, nil},
		{"label!", containerPruneFilter{notLabels: []string{"team"}}, []string{"dead", "created", "exited-old"}},
		{"label and until", containerPruneFilter{labels: []string{"keep=no"}, until: t0.Add(3 * time.Hour)}, nil},
	} {
		if got := pruneIDs(prunableContainers(list, &tt.f, labelsOf)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	// containerLabels reads the labels run and create recorded in the container's config.
	list[4].Config.Labels = map[string]string{"team": "x"}
	if got := pruneIDs(prunableContainers(list, &containerPruneFilter{labels: []string{"team"}}, containerLabels)); !slices.Equal(got, []string{"labelled"}) {
		t.Errorf("label=team with containerLabels: %q, want labelled", got)
	}
	if got := pruneIDs(prunableContainers(list, &containerPruneFilter{notLabels: []string{"team"}}, containerLabels)); !slices.Equal(got, []string{"dead", "created", "exited-old"}) {
		t.Errorf("label!=team with containerLabels: %q, want every stopped one but labelled", got)
	}
}

// TestPruneContainersRace: a container that remove refuses as running was started since it
// was listed: it is skipped without an error, as one removed meanwhile; other failures are
// returned and the rest still removed.
func TestPruneContainersRace(t *testing.T) {
	list := []*runner.Container{
		pruneTestContainer("a", runner.StatusExited, time.Time{}),
		pruneTestContainer("started", runner.StatusCreated, time.Time{}),
		pruneTestContainer("gone", runner.StatusExited, time.Time{}),
		pruneTestContainer("fails", runner.StatusExited, time.Time{}),
		pruneTestContainer("b", runner.StatusCreated, time.Time{}),
	}
	var removed []string
	remove := func(c *runner.Container) error {
		switch c.ID {
		case "started":
			return fmt.Errorf("cannot remove container %q: %w: stop the container before removing or force remove", c.Config.Name, runner.ErrRunning)
		case "gone":
			return fmt.Errorf("container gone: %w", runner.ErrNotFound)
		case "fails":
			return errors.New("removing container fails: disk on fire")
		}
		removed = append(removed, c.ID)
		return nil
	}
	sizes := map[string]int64{"a": 1000, "started": 1 << 20, "gone": 7, "fails": 9, "b": 234}
	res, err := pruneContainers(context.Background(), list, remove, func(c *runner.Container) int64 { return sizes[c.ID] })
	if !slices.Equal(res.deleted, []string{"a", "b"}) || !slices.Equal(removed, res.deleted) || res.freed != 1234 {
		t.Errorf("deleted %q (removed %q), freed %d; want a, b and 1234", res.deleted, removed, res.freed)
	}
	if err == nil || err.Error() != "removing container fails: disk on fire" {
		t.Errorf("err = %v, want only the failure that is no race", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	res, err = pruneContainers(ctx, list, func(*runner.Container) error {
		n++
		cancel()
		return nil
	}, func(*runner.Container) int64 { return 1 })
	if n != 1 || !slices.Equal(res.deleted, []string{"a"}) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled after the first: removed %d, deleted %q, err %v; want 1, a, context.Canceled", n, res.deleted, err)
	}
}

func TestPrintContainerPrune(t *testing.T) {
	var b bytes.Buffer
	printContainerPrune(&b, containerPruneResult{})
	if b.String() != "Total reclaimed space: 0B\n" {
		t.Errorf("nothing removed: %q", b.String())
	}
	b.Reset()
	id1, id2 := strings.Repeat("a", 64), strings.Repeat("b", 64)
	printContainerPrune(&b, containerPruneResult{deleted: []string{id1, id2}, freed: 1200})
	if want := "Deleted Containers:\n" + id1 + "\n" + id2 + "\n\nTotal reclaimed space: 1.2kB\n"; b.String() != want {
		t.Errorf("two removed: %q, want %q", b.String(), want)
	}
}

// TestDockerHumanSize: go-units' HumanSize, four significant digits in decimal units.
func TestDockerHumanSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0B", 1: "1B", 212: "212B", 999: "999B", 1000: "1kB", 1200: "1.2kB", 1234: "1.234kB",
		12345: "12.35kB", 999999: "1000kB", 1e6: "1MB", 2746000: "2.746MB", 5e9: "5GB", 1.5e12: "1.5TB",
	} {
		if got := dockerHumanSize(n); got != want {
			t.Errorf("dockerHumanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestConfirm(t *testing.T) {
	const q = "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?"
	for in, want := range map[string]bool{
		"y\n": true, "Y\n": true, "yes\n": true, " YES \r\n": true, "y": true,
		"n\n": false, "\n": false, "": false, "yess\n": false, "no\ny\n": false, "\ny\n": false,
	} {
		var out bytes.Buffer
		got, err := confirm(context.Background(), strings.NewReader(in), &out, q)
		if err != nil || got != want {
			t.Errorf("answer %q = %v, %v; want %v", in, got, err, want)
		}
		if out.String() != q+" [y/N] " {
			t.Errorf("prompt %q", out.String())
		}
	}
	// Interrupted while it waits: no, after a newline.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	block := blockingReader{make(chan struct{})}
	defer close(block.c)
	if got, err := confirm(ctx, block, &out, "Sure?"); got || err != nil || out.String() != "Sure? [y/N] \n" {
		t.Errorf("interrupted: %v, %v, prompt %q", got, err, out.String())
	}
}

type blockingReader struct{ c chan struct{} }

func (r blockingReader) Read([]byte) (int, error) {
	<-r.c
	return 0, errors.New("closed")
}

// TestContainerPruneCommand runs `container prune` in process on an empty store: the filter
// errors come before the question, a "no" removes nothing and prints nothing more, and -f
// prints docker's total.
func TestContainerPruneCommand(t *testing.T) {
	root := t.TempDir()
	_, err := strata(t, root, nil, "container", "prune", "-f", "--filter", "x=1")
	if err == nil || !strings.Contains(err.Error(), `unknown key "x"`) {
		t.Errorf("--filter x=1: %v", err)
	}
	out, err := strata(t, root, []byte("n\n"), "container", "prune")
	if err != nil || out != "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] " {
		t.Errorf("answered n: %q, %v", out, err)
	}
	for _, args := range [][]string{{"-f"}, {"--force", "--filter", "until=1h", "--filter", "label!=a"}} {
		out, err = strata(t, root, nil, append([]string{"container", "prune"}, args...)...)
		if err != nil || out != "Total reclaimed space: 0B\n" {
			t.Errorf("prune %q on an empty store: %q, %v", args, out, err)
		}
	}
	out, err = strata(t, root, []byte("y\n"), "container", "prune")
	if err != nil || !strings.HasSuffix(out, "[y/N] Total reclaimed space: 0B\n") {
		t.Errorf("answered y: %q, %v", out, err)
	}
	if _, err := strata(t, root, nil, "container", "prune", "extra"); err == nil {
		t.Error("prune with an argument: no error")
	}
	// Containers carry labels (run -l): the help no longer says they carry none.
	if out, _ := strata(t, root, nil, "container", "prune", "--help"); !strings.Contains(out, "label=KEY") || strings.Contains(out, "carry none") {
		t.Errorf("container prune --help:\n%s\nwant label=KEY, and no word that containers carry no labels", out)
	}
}
