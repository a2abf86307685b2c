package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-run/strata/runner"
)

// TestOneContainerSizeErrorNotFatal: a container whose writes cannot be measured (a tree
// deeper than PATH_MAX: lstat says ENAMETOOLONG for a path of kilobytes) is shown with size 0
// by ps -s, inspect -s and system df, with one short warning line on stderr, and the others
// as measured, exit 0: its error, kilobytes long, failed each command for every container.
func TestOneContainerSizeErrorNotFatal(t *testing.T) {
	root := t.TempDir()
	store, err := runner.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	var cs []*runner.Container
	for _, name := range []string{"deep", "fine"} {
		c, err := store.Create(runner.Config{Name: name, Image: "alpine", Spec: runner.Spec{Args: []string{"true"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(c.Dir, "upper"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.Dir, "upper", "f"), make([]byte, 2000), 0o644); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	deep := cs[0]
	long := filepath.Join(deep.Dir, "upper", strings.Repeat("d/", 3000))
	saved := filesSize
	t.Cleanup(func() { filesSize = saved })
	filesSize = func(dir string) (int64, error) {
		if strings.HasPrefix(dir, deep.Dir) {
			return 0, &fs.PathError{Op: "lstat", Path: long, Err: syscall.ENAMETOOLONG}
		}
		return saved(dir)
	}
	warned := func(what, stderr string) {
		t.Helper()
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if len(lines) != 1 || len(lines[0]) > 200 || !strings.Contains(lines[0], "WARNING") ||
			!strings.Contains(lines[0], deep.ID[:12]) || !strings.Contains(lines[0], "file name too long") {
			t.Errorf("%s: stderr %.300q, want one short warning naming %s", what, stderr, deep.ID[:12])
		}
	}

	out, stderr, err := strataOutErr(t, root, "ps", "-a", "-s", "--format", "{{.Names}} {{.Size}}")
	if err != nil || out != "fine 2kB (virtual 2kB)\ndeep 0B\n" {
		t.Errorf("ps -a -s = %q, %v; want both, deep as 0B", out, err)
	}
	warned("ps -a -s", stderr)

	out, stderr, err = strataOutErr(t, root, "inspect", "-s", "-f", "{{.Name}} {{.SizeRw}} {{.SizeRootFs}}", "deep", "fine")
	if err != nil || out != "/deep 0 0\n/fine 2000 2000\n" {
		t.Errorf("inspect -s = %q, %v; want both, deep as 0", out, err)
	}
	warned("inspect -s", stderr)

	out, stderr, err = strataOutErr(t, root, "system", "df", "-v", "--format", "json")
	if err != nil {
		t.Fatalf("system df = %v, stderr %.300q", err, stderr)
	}
	warned("system df", stderr)
	var u struct{ Containers []containerUsage }
	if err := json.Unmarshal([]byte(out), &u); err != nil || len(u.Containers) != 2 {
		t.Fatalf("system df --format json = %q: %v", out, err)
	}
	for _, c := range u.Containers {
		if want := map[string]int64{"deep": 0, "fine": 2000}[c.Name]; c.Size != want {
			t.Errorf("system df: %s's size %d, want %d", c.Name, c.Size, want)
		}
	}
}
