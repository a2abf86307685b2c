package main

import (
	"strings"
	"testing"
)

// TestTagChecksTargetFirst: tag refuses a target that is no name (or one with a digest) before
// it looks for the source, as docker's client parses both before asking for the image: 'tag
// nosuch ALPINE' said the source was not in the store, and a fixed source met the next error.
func TestTagChecksTargetFirst(t *testing.T) {
	root := t.TempDir()
	for _, tt := range []struct{ target, want string }{
		{"ALPINE", "invalid reference format: repository name (library/ALPINE) must be lowercase"},
		{"a//b", "invalid reference format"},
		{"x@sha256:" + strings.Repeat("a", 64), "the target must be a name or name:tag, not a digest"},
	} {
		_, err := strata(t, root, nil, "tag", "nosuch", tt.target)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("tag nosuch %s = %v, want %q", tt.target, err, tt.want)
		}
	}
}
