package main

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/strata-run/strata/internal/testimages"
)

// readme is the repository's README.md.
func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sessionOutput is what README's session shows after the prompt line "# " + command, up to
// the next prompt or the end of the block.
func sessionOutput(t *testing.T, text, command string) string {
	t.Helper()
	_, after, ok := strings.Cut(text, "\n# "+command+"\n")
	if !ok {
		t.Fatalf("README shows no %q", command)
	}
	var lines []string
	for _, line := range strings.Split(after, "\n") {
		if strings.HasPrefix(line, "# ") || strings.HasPrefix(line, "```") {
			break
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestREADMEImagesOutput: the `strata images` of README's session is what strata prints for
// the test images the session pulls (make demo's): its columns were a space narrower than
// docker's tabwriter makes them, and its ID and size were of no image strata serves.
func TestREADMEImagesOutput(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the README shows the linux/amd64 image")
	}
	want := sessionOutput(t, readme(t), "strata images")
	// What the session's pull through make demo's mirror stores: the host's image of the
	// test images' alpine index.
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(t.TempDir(), "layout")
	if err := testimages.WriteLayout(td, layout); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "--platform", "linux/amd64", "-i", layout); err != nil {
		t.Fatal(err)
	}
	got, err := strata(t, root, nil, "images", "alpine:latest")
	if err != nil {
		t.Fatal(err)
	}
	// The age is relative to today.
	ago := regexp.MustCompile(`\d+ (second|minute|hour|day|week|month|year)s? ago`)
	norm := func(s string) string { return ago.ReplaceAllString(s, "N units ago") }
	if norm(got) != norm(want) {
		t.Errorf("strata images prints\n%s\nREADME shows\n%s", got, want)
	}
}

// TestREADMEFlagsExist: every --flag the README names is a flag of some strata command (or a
// global one), so that a docker user who reads it and types it is not told it is unknown.
func TestREADMEFlagsExist(t *testing.T) {
	known := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.InitDefaultHelpFlag()
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&globals{}))
	// Flags of other programs the README names: go test's and make's, and bench/run.sh's.
	others := map[string]bool{"only": true}
	var missing []string
	for _, m := range regexp.MustCompile("(?:^|[\\s`(])--([a-z][a-z0-9-]*)").FindAllStringSubmatch(readme(t), -1) {
		if !known[m[1]] && !others[m[1]] {
			missing = append(missing, "--"+m[1])
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("README names flags no strata command has: %v", missing)
	}
}

// TestAirGappedInspectFormat: the `image inspect --format` of docs/air-gapped.md runs, and
// lists each platform of the index with its digest as the lines under it show. Its
// {{"\n"}} failed ('unterminated quoted string'): strata turns \n into a newline before
// parsing a format, inside quoted strings too.
func TestAirGappedInspectFormat(t *testing.T) {
	b, err := os.ReadFile("../../docs/air-gapped.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^strata image inspect --format '([^']*)' (\S+)$`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("docs/air-gapped.md shows no strata image inspect --format")
	}
	root := loadedTestImages(t)
	out, err := strata(t, root, nil, "image", "inspect", "--format", m[1], "alpine:latest")
	if err != nil {
		t.Fatalf("strata image inspect --format %q: %v", m[1], err)
	}
	if !regexp.MustCompile(`(?m)^linux/amd64 sha256:[0-9a-f]{64}\nlinux/arm64/v8 sha256:[0-9a-f]{64}\n`).MatchString(out) {
		t.Errorf("strata image inspect --format %q = %q, want a line per platform", m[1], out)
	}
}
