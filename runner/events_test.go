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
