package main

import (
	"strings"
	"testing"
)

// TestPsQuietIgnoresFormatAloud: with -q and a format of its own, ps prints IDs (none here)
// and says on stderr that the format was ignored, as docker ps does; -q alone says nothing.
func TestPsQuietIgnoresFormatAloud(t *testing.T) {
	root := t.TempDir()
	const warning = "WARNING: Ignoring custom format, because both --format and --quiet are set."
	_, stderr, err := strataOutErr(t, root, "ps", "-aq", "--format", "{{.Names}}")
	if err != nil || !strings.Contains(stderr, warning) {
		t.Errorf("ps -aq --format {{.Names}}: stderr %q, err %v; want %q", stderr, err, warning)
	}
	for _, args := range [][]string{{"ps", "-aq"}, {"ps", "-aq", "--format", "table"}} {
		if _, stderr, err := strataOutErr(t, root, args...); err != nil || stderr != "" {
			t.Errorf("%q: stderr %q, err %v; want nothing", args, stderr, err)
		}
	}
}
