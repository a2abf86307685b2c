package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner"
)

// TestPsTableAsDocker pins docker ps's default table: its columns (PORTS included, empty), its
// tabwriter (at least 10 wide, 3 apart), the command quoted and cut to 20 runes with "…" (a
// multi-byte command is cut between runes, not inside one).
func TestPsTableAsDocker(t *testing.T) {
	rows := []psRow{{
		ID: strings.Repeat("0123456789ab", 5) + "cdef", Image: "alpine", Command: "sleep 10",
		RunningFor: "5 seconds ago", Status: "Up 5 seconds", Names: "web",
	}, {
		ID: strings.Repeat("f", 64), Image: "alpine", Command: "echo ééééééééééééééééééééé",
		RunningFor: "About a minute ago", Status: "Exited (0) 3 seconds ago", Names: "db",
	}}
	var out bytes.Buffer
	if err := printPs(&out, rows, false, false, ""); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"CONTAINER ID   IMAGE     COMMAND                  CREATED              STATUS                     PORTS     NAMES\n" +
		"0123456789ab   alpine    \"sleep 10\"               5 seconds ago        Up 5 seconds                         web\n" +
		"ffffffffffff   alpine    \"echo éééééééééééééé…\"   About a minute ago   Exited (0) 3 seconds ago             db\n"
	if out.String() != want {
		t.Errorf("ps table =\n%s\nwant\n%s", out.String(), want)
	}

	out.Reset()
	if err := printPs(&out, rows, false, true, `{{.ID}} {{.Command}}`); err != nil {
		t.Fatal(err)
	}
	if want := rows[0].ID + " \"sleep 10\"\n" + rows[1].ID + " \"echo ééééééééééééééééééééé\"\n"; out.String() != want {
		t.Errorf("ps --no-trunc --format = %q, want %q", out.String(), want)
	}
}

// TestPsPlaceholders: every placeholder docker ps documents works, with docker's values.
func TestPsPlaceholders(t *testing.T) {
	created := time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.UTC)
	c := &runner.Container{ID: strings.Repeat("a", 64), Config: runner.Config{
		Image: "alpine", Name: "web", Created: created,
		Spec: runner.Spec{Args: []string{"sh", "-c", "sleep 1000"}, Network: "host", Mounts: []mount.Mount{
			{Type: "bind", Source: "/srv/some/long/data/dir", Target: "/data"},
			{Type: "tmpfs", Target: "/run"},
		}},
	}}
	c.State.Status = runner.StatusCreated
	r := newPsRow(c)
	var out bytes.Buffer
	format := `{{.ID}}|{{.Image}}|{{.Command}}|{{.CreatedAt}}|{{.RunningFor}}|{{.Ports}}|{{.State}}|{{.Status}}|{{.Size}}|{{.Names}}|{{.Labels}}|{{.Label "k"}}|{{.Mounts}}|{{.Networks}}|{{.LocalVolumes}}`
	if err := printPs(&out, []psRow{r}, false, false, format); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"aaaaaaaaaaaa", "alpine", `"sh -c 'sleep 1000'"`, created.Truncate(time.Second).Local().String(),
		humanSince(created), "", "created", "Created", "0B", "web", "", "", "/srv/some/long…", "host", "0",
	}, "|") + "\n"
	if out.String() != want {
		t.Errorf("ps --format all placeholders =\n%q\nwant\n%q", out.String(), want)
	}

	// --format json: one object a line, with docker's keys and the same strings.
	out.Reset()
	if err := printPs(&out, []psRow{r}, false, false, "json"); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("ps --format json = %q: %v", out.String(), err)
	}
	for _, k := range []string{"Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks", "Ports", "RunningFor", "Size", "State", "Status"} {
		if _, ok := got[k].(string); !ok {
			t.Errorf("ps --format json has %s = %#v, want a string as docker's", k, got[k])
		}
	}
	if got["CreatedAt"] != created.Truncate(time.Second).Local().String() || got["Command"] != `"sh -c 'sleep 1000'"` {
		t.Errorf("ps --format json = %s", out.String())
	}

	// table with placeholders that are not fields: RunningFor is headed CREATED as docker.
	out.Reset()
	if err := printPs(&out, []psRow{r}, false, false, `table {{.Names}}\t{{.RunningFor}}\t{{.Size}}`); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(out.String(), "\n"); strings.Join(strings.Fields(first), " ") != "NAMES CREATED SIZE" {
		t.Errorf("ps table header = %q, want NAMES CREATED SIZE", first)
	}
}

// TestTitleEachWord: {{title}} capitalizes each word and keeps the rest, as docker's.
func TestTitleEachWord(t *testing.T) {
	var out bytes.Buffer
	if err := printPs(&out, []psRow{{Names: "my web-app x1 iOS"}}, false, false, `{{title .Names}}`); err != nil {
		t.Fatal(err)
	}
	if out.String() != "My Web-App X1 IOS\n" {
		t.Errorf("title = %q, want %q", out.String(), "My Web-App X1 IOS\n")
	}
}

// TestPsImageTrunc: as docker, ps shows an image ID short and a reference without its digest,
// unless --no-trunc.
func TestPsImageTrunc(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	rows := []psRow{{Image: digest}, {Image: "alpine@" + digest}, {Image: "localhost:5000/a:1@" + digest}, {Image: "alpine:3"}}
	for _, tt := range []struct {
		noTrunc bool
		want    string
	}{
		{false, "abababababab\nalpine\nlocalhost:5000/a:1\nalpine:3\n"},
		{true, digest + "\nalpine@" + digest + "\nlocalhost:5000/a:1@" + digest + "\nalpine:3\n"},
	} {
		var out bytes.Buffer
		if err := printPs(&out, rows, false, tt.noTrunc, "{{.Image}}"); err != nil || out.String() != tt.want {
			t.Errorf("ps --no-trunc=%v {{.Image}} = %q, %v; want %q", tt.noTrunc, out.String(), err, tt.want)
		}
	}
}

// TestPsFilterDockerKeys: the filters docker scripts use beyond id/name/status: before= and
// since= (by creation, naming a container that must exist), network=, volume=, label= (a key,
// or key=value; several must all match), and name= matching docker's "/name".
func TestPsFilterDockerKeys(t *testing.T) {
	root := t.TempDir()
	store, err := runner.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for i, name := range []string{"aa", "bb", "cc"} {
		cfg := runner.Config{Name: name, Image: "alpine", Created: t0.Add(time.Duration(i) * time.Minute),
			Spec: runner.Spec{Args: []string{"true"}}}
		if name == "bb" {
			cfg.Spec.Mounts = []mount.Mount{{Type: "bind", Source: "/srv", Target: "/data"}}
			cfg.Spec.Network = "host"
			cfg.Labels = map[string]string{"com.example": "web", "tier": ""}
		}
		if name == "cc" {
			cfg.Labels = map[string]string{"com.example": "db"}
		}
		if _, err := store.Create(cfg); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		filters []string
		want    string
	}{
		{[]string{"before=cc"}, "bb aa"},
		{[]string{"since=aa"}, "cc bb"},
		{[]string{"since=aa", "before=cc"}, "bb"},
		{[]string{"name=^/bb$"}, "bb"},
		{[]string{"name=^bb$"}, "bb"},
		{[]string{"network=host"}, "bb"},
		{[]string{"network=none"}, "cc aa"},
		{[]string{"volume=/data"}, "bb"},
		{[]string{"volume=/srv"}, "bb"},
		{[]string{"label=com.example"}, "cc bb"},
		{[]string{"label=com.example=db"}, "cc"},
		{[]string{"label=com.example", "label=tier"}, "bb"},
		{[]string{"label=tier="}, "bb"},
		{[]string{"label=nosuch"}, ""},
	} {
		args := []string{"ps", "-a", "--format", "{{.Names}}"}
		for _, f := range tt.filters {
			args = append(args, "-f", f)
		}
		out, err := strata(t, root, nil, args...)
		if got := strings.Join(strings.Fields(out), " "); err != nil || got != tt.want {
			t.Errorf("ps -a %q = %q, %v; want %q", tt.filters, got, err, tt.want)
		}
	}
	out, err := strata(t, root, nil, "ps", "-a", "--format", `{{.Names}}|{{.Labels}}|{{.Label "com.example"}}`)
	if want := "cc|com.example=db|db\nbb|com.example=web,tier=|web\naa||\n"; err != nil || out != want {
		t.Errorf("ps -a with labels = %q, %v; want %q", out, err, want)
	}
	if _, err := strata(t, root, nil, "ps", "-a", "-f", "before=nosuch"); err == nil || !strings.Contains(err.Error(), "no such container") {
		t.Errorf("ps -f before=nosuch = %v, want no such container", err)
	}
}

// TestPsSize: -s adds docker's SIZE column; a template naming .Size measures without -s.
func TestPsSize(t *testing.T) {
	root := t.TempDir()
	store, err := runner.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.Create(runner.Config{Name: "aa", Image: "alpine", Created: time.Now(), Spec: runner.Spec{Args: []string{"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(c.Dir, "upper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "upper", "f"), bytes.Repeat([]byte("x"), 20000), 0o644); err != nil {
		t.Fatal(err)
	}
	// As docker's SizeRw: the file's 20000 bytes, the directory nothing; no image layers
	// under it, so virtual is the same.
	size := regexp.MustCompile(`(^|   )20kB \(virtual 20kB\)$`)
	out, err := strata(t, root, nil, "ps", "-a", "-s")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || !strings.HasSuffix(lines[0], "   NAMES     SIZE") ||
		!strings.Contains(lines[1], "   aa   ") || !size.MatchString(lines[1]) {
		t.Errorf("ps -a -s = %q, %v; want a SIZE column of about 20kB", out, err)
	}
	out, err = strata(t, root, nil, "ps", "-a", "--format", "{{.Size}}")
	if err != nil || !size.MatchString(strings.TrimSpace(out)) {
		t.Errorf("ps -a --format .Size = %q, %v; want about 20kB", out, err)
	}
}

// TestPsLabelColumnHeader: a table with a {{.Label "key"}} column is headed by the key's last
// dotted part, - and _ as spaces, as docker's; it had no header line at all, so a script that
// skips the first line lost a container.
func TestPsLabelColumnHeader(t *testing.T) {
	rows := []psRow{{ID: "abc", Names: "web", labels: map[string]string{"com.docker.compose.project-name": "shop"}}, {ID: "def", Names: "db"}}
	var out bytes.Buffer
	if err := printPs(&out, rows, false, false, `table {{.Names}}\t{{.Label "com.docker.compose.project-name"}}\t{{.Label "x_y"}}|`); err != nil {
		t.Fatal(err)
	}
	want := "NAMES     project name   x y|\nweb       shop           |\ndb                       |\n"
	if out.String() != want {
		t.Errorf("ps label table =\n%q\nwant\n%q", out.String(), want)
	}
}

// TestPsRawFormat: ps --format raw prints docker's "key: value" blocks, a blank line after
// each, nothing after a key whose value is empty; with -q only "container_id: ID" lines.
func TestPsRawFormat(t *testing.T) {
	created := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	rows := []psRow{{ID: strings.Repeat("a", 64), Image: "alpine", Command: "sleep 9", CreatedAt: psTime{created}, State: "running", Status: "Up 2 seconds", Names: "web", Labels: "a=b"}}
	var out bytes.Buffer
	if err := printPs(&out, rows, false, false, "raw"); err != nil {
		t.Fatal(err)
	}
	want := "container_id: aaaaaaaaaaaa\nimage: alpine\ncommand: \"sleep 9\"\ncreated_at: " + psTime{created}.String() +
		"\nstate: running\nstatus: Up 2 seconds\nnames: web\nlabels: a=b\nports:\n\n"
	if out.String() != want {
		t.Errorf("ps --format raw =\n%q\nwant\n%q", out.String(), want)
	}
	out.Reset()
	if err := printPs(&out, rows, true, true, " raw "); err != nil {
		t.Fatal(err)
	}
	if want := "container_id: " + rows[0].ID + "\n"; out.String() != want {
		t.Errorf("ps -q --no-trunc --format raw = %q, want %q", out.String(), want)
	}
}
