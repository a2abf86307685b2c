package registry

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadConfigStrict: a registries.json that holds more than one object (two files run
// together), or two keys of one registry (Docker Hub's aliases), is refused, saying so: the
// rest was dropped unread, and of the two keys one was kept, a different one from run to
// run. A named pipe is refused at once, not waited on forever with every pull and push.
func TestLoadConfigStrict(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, data, want string }{
		{"two objects", `{"registries":{"r.local":{"insecure":true}}} {"registries":{"docker.io":{"mirrors":["http://m.local"]}}}`, "more after the JSON object at byte 46"},
		{"trailing junk", `{"registries":{}} x`, "more after the JSON object"},
		{"hub twice", `{"registries":{"docker.io":{"mirrors":["http://a.local"]},"index.docker.io":{"mirrors":["http://b.local"]}}}`,
			`registry "docker.io" is given twice, as "docker.io" and as "index.docker.io"`},
		{"url and host", `{"registries":{"https://r.local":{},"r.local":{"insecure":true}}}`,
			`registry "r.local" is given twice, as "https://r.local" and as "r.local"`},
		// A registry's name is quoted, its escapes escaped (found by FuzzRegistryValues).
		{"escape in a name", `{"registries":{"\u001b[2J":{"mirrors":["ftp://x"]}}}`, `registry "\x1b[2J": invalid mirror "ftp://x"`},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".json")
		if err := os.WriteFile(path, []byte(tt.data), 0o644); err != nil {
			t.Fatal(err)
		}
		for range 5 { // map order must not decide
			_, err := LoadConfig(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("%s: LoadConfig = %v, want an error naming %s and saying %q", tt.name, err, path, tt.want)
			}
		}
	}
	// Whitespace after the object is fine.
	path := filepath.Join(dir, "spaces.json")
	if err := os.WriteFile(path, []byte("{\"registries\":{\"r.local\":{\"insecure\":true}}}\n\n  \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err := LoadConfig(path); err != nil || !c.Registries["r.local"].Insecure {
		t.Fatalf("LoadConfig(object and blank lines) = %+v, %v", c, err)
	}

	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := LoadConfig(fifo)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "named pipe") {
			t.Errorf("LoadConfig(FIFO) = %v, want it refused as a named pipe", err)
		}
	case <-time.After(10 * time.Second):
		// Unblock the reader so the test ends.
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("LoadConfig of a named pipe still waiting after 10 s")
	}
}
