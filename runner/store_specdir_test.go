package runner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestLoadPinsSpecDir: a container's Spec.Dir and Spec.ID are its dir and ID as the store
// finds it, whatever its config.json says: start writes the etc files (hosts, hostname,
// resolv.conf) into Spec.Dir, so a "dir" edited to another place (/etc) had them replace
// the files there.
func TestLoadPinsSpecDir(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "pinned"})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	name := filepath.Join(c.Dir, configFile)
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	raw["spec"].(map[string]any)["dir"] = elsewhere
	delete(raw["spec"].(map[string]any), "id")
	if b, err = json.Marshal(raw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("pinned")
	if err != nil {
		t.Fatal(err)
	}
	if got.Broken != nil {
		t.Fatalf("container broken: %v", got.Broken)
	}
	if got.Config.Spec.Dir != c.Dir || got.Config.Spec.ID != c.ID {
		t.Errorf("Spec.Dir, Spec.ID = %q, %q; want the container's own %q, %q", got.Config.Spec.Dir, got.Config.Spec.ID, c.Dir, c.ID)
	}
}

// TestLoadInvalidName: a config.json whose name is none strata gives (terminal escapes, a
// newline, a path) makes a broken container, listed under the name its index link gives and
// removable by it: ps printed the name raw, escapes and line breaks and all.
func TestLoadInvalidName(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"x\x1b]0;title\x07\x1b[31mred", "two\nlines", "../../etc"} {
		cfg := c.Config
		cfg.Name = bad
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.Dir, configFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get("plain")
		if err != nil {
			t.Fatalf("%q: Get by its index name: %v", bad, err)
		}
		if got.Broken == nil || got.Name() != "plain" {
			t.Errorf("%q: container read as named %q, broken %v; want broken, named plain", bad, got.Name(), got.Broken)
		}
		list, err := s.List()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range list {
			if !validName(l.Name()) {
				t.Errorf("%q: List gives the name %q", bad, l.Name())
			}
		}
	}
}
