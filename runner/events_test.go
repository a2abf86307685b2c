package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
