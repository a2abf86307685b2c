package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
)

// TestHistory: strata history (and image history) shows an image's steps as docker history
// does: newest first, the image's ID on the newest and <missing> on the others, docker's
// columns, CREATED BY cut to 45 runes unless --no-trunc, -q the IDs, -H=false times and
// bytes exact, --format json docker's keys, --platform another platform's image.
func TestHistory(t *testing.T) {
	root := loadedTestImages(t)
	id, err := strata(t, root, nil, "images", "--no-trunc", "--format", "{{.ID}}", "alpine:3.20.3")
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(id)
	out, err := strata(t, root, nil, "history", "alpine:3.20.3")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "IMAGE          CREATED       CREATED BY ") || !strings.HasSuffix(lines[0], "SIZE      COMMENT") ||
		!strings.HasPrefix(lines[1], shortID(id)+"   ") || !strings.Contains(lines[1], `CMD ["/bin/sh"]`) || !strings.Contains(lines[1], " 0B ") ||
		!strings.HasPrefix(lines[2], "<missing>      ") || !strings.Contains(lines[2], "ADD alpine-minirootfs-3.20.3-x86_64.tar.gz /…") {
		t.Errorf("history alpine:3.20.3 =\n%s\nwant docker's table, newest first", out)
	}
	if out, err := strata(t, root, nil, "image", "history", "-q", "alpine:3.20.3"); err != nil || out != shortID(id)+"\n<missing>\n" {
		t.Errorf("image history -q = %q, %v", out, err)
	}
	if out, err := strata(t, root, nil, "history", "--no-trunc", "--format", "{{.ID}} {{.CreatedBy}}", "alpine:3.20.3"); err != nil ||
		!strings.Contains(out, id+` CMD ["/bin/sh"]`) || !strings.Contains(out, "<missing> ADD alpine-minirootfs-3.20.3-x86_64.tar.gz / # buildkit\n") {
		t.Errorf("history --no-trunc = %q, %v", out, err)
	}
	out, err = strata(t, root, nil, "history", "-H=false", "alpine:3.20.3")
	created := time.Date(2024, 9, 6, 12, 5, 36, 0, time.UTC).Local().Format(time.RFC3339)
	if err != nil || !strings.Contains(out, "CREATED AT") || !strings.Contains(out, created) || strings.Contains(out, "ago") || strings.Contains(out, "MB") {
		t.Errorf("history -H=false = %q, %v; want times as %s and sizes in bytes", out, err, created)
	}
	out, err = strata(t, root, nil, "history", "--format", "json", "alpine:3.20.3")
	if err != nil {
		t.Fatal(err)
	}
	var first map[string]string
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &first); err != nil || len(first) != 6 ||
		first["ID"] != shortID(id) || first["Size"] != "0B" || first["Comment"] != "buildkit.dockerfile.v0" || first["CreatedSince"] == "" {
		t.Errorf("history --format json = %q (%v); want docker's six keys", out, err)
	}
	if out, err := strata(t, root, nil, "history", "--platform", "linux/arm64", "--format", "{{.CreatedBy}}", "alpine:3.20.3"); err != nil || !strings.Contains(out, "aarch64") {
		t.Errorf("history --platform linux/arm64 = %q, %v; want the arm64 image's steps", out, err)
	}
	if _, err := strata(t, root, nil, "history", "nosuch"); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("history nosuch: %v; want not in the store", err)
	}
}

// TestHistoryLayersAndSteps: a history that accounts for no layer (none written) shows each
// layer as a step of its own, created when the image was; one with more layer steps than
// layers shows the extra ones empty.
func TestHistoryLayersAndSteps(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	storeBusyboxConfigFile(t, root, "docker.io/library/nohist:1", func(cf *v1.ConfigFile) { cf.History = nil })
	storeBusyboxConfigFile(t, root, "docker.io/library/more:1", func(cf *v1.ConfigFile) {
		cf.History = []v1.History{{CreatedBy: "one"}, {CreatedBy: "two"}, {CreatedBy: "three", EmptyLayer: true}}
	})
	if out, err := strata(t, root, nil, "history", "--format", "{{.CreatedBy}}|{{.Size}}|{{.CreatedSince}}", "nohist:1"); err != nil ||
		!strings.HasPrefix(out, "|") || strings.Count(out, "\n") != 1 || !strings.Contains(out, " ago") {
		t.Errorf("history of an image without history = %q, %v; want its one layer as a step, created when the image was", out, err)
	}
	if out, err := strata(t, root, nil, "history", "--format", "{{.CreatedBy}}|{{.Size}}", "more:1"); err != nil || out != "three|0B\ntwo|0B\none|"+layerSize(t, root, "more:1")+"\n" {
		t.Errorf("history of an image with more layer steps than layers = %q, %v", out, err)
	}
}

// layerSize is the size of the one layer of the image name, as history shows it.
func layerSize(t *testing.T, root, name string) string {
	t.Helper()
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	_, info, err := findImageInfo(store, name)
	if err != nil || len(info.Layers) != 1 {
		t.Fatalf("%s: %+v, %v", name, info.Layers, err)
	}
	return humanSize(info.Layers[0].Size)
}

// TestHistoryEscapesSteps: a step's CREATED BY and COMMENT are the image config's, which
// a registry or an archive wrote: their escape sequences are shown escaped, not run on the
// user's terminal, and a newline does not break the row, in the table and in templates;
// --format json keeps them as they are (JSON escapes them).
func TestHistoryEscapesSteps(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	evil := "RUN \x1b]0;owned\x07\x1b[2J\nline two\u202e"
	storeBusyboxConfigFile(t, root, "docker.io/library/evil:1", func(cf *v1.ConfigFile) {
		cf.History = []v1.History{{CreatedBy: evil, Comment: "\x1b[31mred"}}
	})
	for _, args := range [][]string{
		{"history", "evil:1"},
		{"history", "--no-trunc", "evil:1"},
		{"history", "--format", "{{.CreatedBy}} {{.Comment}}", "evil:1"},
		{"history", "--format", "table {{.CreatedBy}}\t{{.Comment}}", "evil:1"},
	} {
		out, err := strata(t, root, nil, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if strings.ContainsAny(out, "\x1b\x07\u202e") || !strings.Contains(out, `\x1b`) {
			t.Errorf("%v = %q; want the escapes shown escaped", args, out)
		}
		if want := 2; args[1] != "--format" && strings.Count(out, "\n") != want {
			t.Errorf("%v = %q; want a header and one row", args, out)
		}
	}
	out, err := strata(t, root, nil, "history", "--format", "json", "evil:1")
	if err != nil {
		t.Fatal(err)
	}
	var row map[string]string
	if err := json.Unmarshal([]byte(out), &row); err != nil || row["CreatedBy"] != evil || row["Comment"] != "\x1b[31mred" {
		t.Errorf("history --format json = %q (%v); want the step as the config has it", out, err)
	}
}
