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
