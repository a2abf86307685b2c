package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestPruneFilterLabel: prune --filter label=KEY[=VALUE] (and label!=) removes, as docker's
// image prune does, only the images whose config's labels pass: with -a the unused named
// images, without it the dangling ones. It was refused as an unknown key.
func TestPruneFilterLabel(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	label := func(team string) func(*v1.Config) {
		return func(c *v1.Config) { c.Labels = map[string]string{"team": team} }
	}
	storeEditedBusybox(t, root, "docker.io/library/web:1", label("a"))
	storeEditedBusybox(t, root, "docker.io/library/db:1", label("b"))
	names := func() string {
		t.Helper()
		out, err := strata(t, root, nil, "images", "--format", "{{.Repository}}:{{.Tag}}")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	out, err := strata(t, root, nil, "prune", "-a", "--dry-run", "--filter", "label!=team")
	if err != nil || !strings.Contains(out, "Would untag: busybox:1.38.0-musl\n") || strings.Contains(out, "web") || strings.Contains(out, "db") {
		t.Errorf("prune -a --dry-run --filter label!=team = %q, %v; want busybox alone", out, err)
	}
	out, err = strata(t, root, nil, "image", "prune", "-a", "-f", "--filter", "label=team=a")
	if err != nil || !strings.Contains(out, "Untagged: web:1\n") || strings.Contains(out, "db:1") || strings.Contains(out, "busybox") {
		t.Errorf("image prune -a --filter label=team=a = %q, %v; want web:1 alone", out, err)
	}
	if got := names(); strings.Contains(got, "web:1") || !strings.Contains(got, "db:1") || !strings.Contains(got, "busybox:1.38.0-musl") {
		t.Errorf("images after = %q, want db:1 and busybox", got)
	}

	// db:1 moved to busybox: its image, labelled team=b, is dangling. A prune for team=a
	// keeps it, one for team=b removes it.
	id, err := strata(t, root, nil, "images", "--no-trunc", "--format", "{{.ID}}", "db:1")
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(root, "oci", "blobs", "sha256", strings.TrimPrefix(strings.TrimSpace(id), "sha256:"))
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", "db:1"); err != nil {
		t.Fatal(err)
	}
	if out, err := strata(t, root, nil, "prune", "--filter", "label=team=a"); err != nil {
		t.Fatalf("prune --filter label=team=a: %v", err)
	} else if _, err := os.Stat(config); err != nil {
		t.Errorf("prune --filter label=team=a removed the dangling image of team=b (%q): %v", out, err)
	}
	if out, err := strata(t, root, nil, "prune", "--filter", "label=team=b"); err != nil {
		t.Fatalf("prune --filter label=team=b: %v", err)
	} else if _, err := os.Stat(config); err == nil {
		t.Errorf("prune --filter label=team=b kept the dangling image of team=b: %q", out)
	}
	for _, f := range []string{"label=", "label!==x", "labels=a"} {
		if out, err := strata(t, root, nil, "prune", "--filter", f); err == nil || !strings.Contains(err.Error(), "--filter") {
			t.Errorf("prune --filter %s = %q, %v; want a --filter error", f, out, err)
		}
	}
}
