package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner"
)

// TestPsConfigEscapes: what ps shows of a container's config.json (its image, network and
// mount sources) never writes a control character to the terminal: a hand-edited config.json
// had its escapes and line breaks printed raw into the table.
func TestPsConfigEscapes(t *testing.T) {
	bad := "x\x1b]0;title\x07\x1b[31mred\nline"
	c := &runner.Container{ID: strings.Repeat("ab", 32), Config: runner.Config{
		Name:  "c",
		Image: bad,
		Spec: runner.Spec{
			Args:    []string{"true"},
			Network: bad,
			Mounts:  []mount.Mount{{Type: "bind", Source: "/tmp/" + bad, Target: "/data"}},
		},
	}}
	row := newPsRow(c)
	for _, format := range []string{"", "json", "{{.Image}} {{.Networks}} {{.Mounts}}"} {
		var out bytes.Buffer
		if err := printPs(&out, []psRow{row}, false, true, format); err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(out.String(), "\x1b\x07") || strings.Count(out.String(), "\n") > 2 {
			t.Errorf("ps --format %q printed a control character: %q", format, out.String())
		}
	}
}

// TestPsLabelEscapes: a container's labels, which an image's author writes, show in ps as its
// other values do, quoted when they hold a control character: {{.Labels}}, {{.Label}} and
// --format raw printed an image's "\x1b[2J" raw to the terminal.
func TestPsLabelEscapes(t *testing.T) {
	bad := "x\x1b]0;title\x07\x1b[2Jclear\nline"
	c := &runner.Container{ID: strings.Repeat("ab", 32), Config: runner.Config{
		Name:   "c",
		Image:  "img",
		Labels: map[string]string{"l": bad, bad: "v", "plain": "ok"},
		Spec:   runner.Spec{Args: []string{"true"}},
	}}
	row := newPsRow(c)
	for _, format := range []string{"raw", "{{.Labels}}", `{{.Label "l"}}`, "table {{.Labels}}"} {
		var out bytes.Buffer
		if err := printPs(&out, []psRow{row}, false, true, format); err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(out.String(), "\x1b\x07") || strings.Count(out.String(), "\n") > 12 {
			t.Errorf("ps --format %q printed a control character: %q", format, out.String())
		}
	}
	var out bytes.Buffer
	if err := printPs(&out, []psRow{row}, false, true, `{{.Label "plain"}}`); err != nil || out.String() != "ok\n" {
		t.Errorf(`ps --format '{{.Label "plain"}}' = %q, %v; want ok`, out.String(), err)
	}
	// The label filter matches the label as it is.
	if !hasLabel(row.labels, "l="+bad) {
		t.Errorf("ps --filter label=l=<the value> no longer matches the raw value")
	}
}
