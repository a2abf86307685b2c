package runner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzContainerStore reads a container whose config.json, state.json and health.json are
// hostile (a damaged store, a hand edit): list, get by ID and by name, inspect and the log
// tag give the container, broken or not, or a one-line error, never a panic; a container
// that is not broken has its spec's ID and dir where it is, whatever config.json says.
func FuzzContainerStore(f *testing.F) {
	seed := f.TempDir()
	s, err := OpenStore(seed)
	if err != nil {
		f.Fatal(err)
	}
	c, err := s.Create(Config{Name: "web", Image: "alpine", Spec: Spec{Args: []string{"sh"}, Env: []string{"A=1"}}})
	if err != nil {
		f.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(c.Dir, configFile))
	state, _ := os.ReadFile(filepath.Join(c.Dir, stateFile))
	f.Add(cfg, state, []byte(`{"Status":"healthy","FailingStreak":0,"Log":[]}`))
	f.Add(cfg, []byte(`{"status":"running","pid":1,"monitorPid":1}`), []byte(`{"Status":"bogus"}`))
	f.Add([]byte(`{"name":"../x","spec":{"id":"`+strings.Repeat("b", 64)+`","dir":"/etc"}}`), []byte(`{}`), []byte(`null`))
	f.Add([]byte(`{"name":"web","spec":{"dir":"/etc"},"logConfig":{"Type":"json-file","Config":{"tag":"{{.Name}}"}}}`), []byte(``), []byte(`[]`))
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, config, state, health []byte) {
		n++
		root := filepath.Join(dir, strconv.Itoa(n))
		defer os.RemoveAll(root)
		s, err := OpenStore(root)
		if err != nil {
			t.Fatal(err)
		}
		id := strings.Repeat("c", 64)
		cdir := filepath.Join(root, id)
		if err := os.Mkdir(cdir, 0o700); err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{configFile: config, stateFile: state, healthFile: health} {
			if err := os.WriteFile(filepath.Join(cdir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		check := func(what string, err error) {
			t.Helper()
			if err != nil && strings.ContainsAny(err.Error(), "\n\r\x1b") {
				t.Errorf("%s: error is not one plain line: %.300q", what, err)
			}
		}
		list, err := s.List()
		check("List", err)
		for _, c := range list {
			check("Broken", c.Broken)
			if c.Broken == nil && (c.Config.Spec.ID != c.ID || c.Config.Spec.Dir != c.Dir) {
				t.Errorf("container %s has spec ID %q and dir %q", c.ID, c.Config.Spec.ID, c.Config.Spec.Dir)
			}
			if _, err := json.Marshal(Inspect(c)); err != nil {
				t.Errorf("inspect of %s does not encode: %v", c.ID, err)
			}
			_, err := containerLogTag(c)
			check("containerLogTag", err)
		}
		for _, ref := range []string{id, id[:12], "web"} {
			_, err := s.Get(ref)
			check("Get", err)
		}
	})
}
