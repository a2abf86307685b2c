package runner

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/events"
)

// TestEventRoot: a container's events go to <root>/events.log, its store being
// <root>/containers; a store elsewhere logs nothing beside it.
func TestEventRoot(t *testing.T) {
	root := t.TempDir()
	c := &Container{ID: strings.Repeat("a", 64), Dir: filepath.Join(root, "containers", strings.Repeat("a", 64)), Config: Config{Name: "x", Image: "alpine"}}
	Event(c, "start", nil)
	eventDie(c, 3)
	b, err := os.ReadFile(filepath.Join(root, "events.log"))
	if err != nil || strings.Count(string(b), "\n") != 2 || !strings.Contains(string(b), `"exitCode":"3"`) || !strings.Contains(string(b), `"name":"x"`) {
		t.Errorf("events.log = %q, %v", b, err)
	}
	other := t.TempDir()
	Event(&Container{ID: "b", Dir: filepath.Join(other, "store", "b")}, "start", nil)
	Event(nil, "start", nil)
	if _, err := os.Stat(filepath.Join(other, "events.log")); err == nil {
		t.Error("a store outside a root logged an event")
	}
}

// TestEventLabels: a container's events carry its labels as attributes, as docker's do, so
// that `strata events --filter label=…` (docker compose's way of following a project) finds
// them; the image and name attributes are the container's whatever its labels say.
func TestEventLabels(t *testing.T) {
	root := t.TempDir()
	c := &Container{ID: strings.Repeat("a", 64), Dir: filepath.Join(root, "containers", strings.Repeat("a", 64)),
		Config: Config{Name: "web", Image: "alpine", Labels: map[string]string{"com.example.project": "demo", "name": "label's"}}}
	eventDie(c, 2)
	b, err := os.ReadFile(filepath.Join(root, "events.log"))
	if err != nil {
		t.Fatal(err)
	}
	var m events.Message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"com.example.project": "demo", "name": "web", "image": "alpine", "exitCode": "2"}
	if !maps.Equal(m.Actor.Attributes, want) {
		t.Errorf("die event's attributes = %v, want %v", m.Actor.Attributes, want)
	}
}

// TestEventLabelsTooBig: a container whose labels would make its event a line longer than a
// reader takes (events.MaxLine) still has its event read, without the labels: the die of a
// container with 100 KiB of labels was skipped by every `strata events`.
func TestEventLabelsTooBig(t *testing.T) {
	root := t.TempDir()
	c := &Container{ID: strings.Repeat("b", 64), Dir: filepath.Join(root, "containers", strings.Repeat("b", 64)),
		Config: Config{Name: "big", Image: "alpine", Labels: map[string]string{"blob": strings.Repeat("\x1b", 20<<10)}}}
	eventDie(c, 3)
	f, err := events.Open(filepath.Join(root, events.File))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []events.Message
	if err := events.NewTail(f).Poll(func(m events.Message) bool { got = append(got, m); return true }); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name": "big", "image": "alpine", "exitCode": "3"}
	if len(got) != 1 || !maps.Equal(got[0].Actor.Attributes, want) {
		t.Fatalf("events read = %v, want one die with attributes %v", got, want)
	}
}
