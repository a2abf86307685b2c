package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLowerdirEdited: a lowerdir edited into a container's config.json to name a host dir (/etc
// here) is refused, in one line, by start, start -a, cp out of the stopped container and diff:
// overlayfs mounts any lowerdir it is given, and the container (or the copy) read the host's
// files. The container is still removed by rm.
func TestLowerdirEdited(t *testing.T) {
	root := busyboxRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "lw") })
	mustStrata(t, root, "create", "--name", "lw", "busybox:1.38.0-musl", "cat", "/passwd")
	config := filepath.Join(root, "containers", containerID(t, root, "lw"), "config.json")
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	spec := cfg["spec"].(map[string]any)
	rootMount := spec["root"].([]any)[0].(map[string]any)
	if rootMount["type"] != "overlay" {
		t.Skip("no overlay root (vfs storage driver)")
	}
	opts := rootMount["options"].([]any)
	for i, o := range opts {
		if s := o.(string); strings.HasPrefix(s, "lowerdir=") {
			opts[i] = "lowerdir=/etc:" + strings.TrimPrefix(s, "lowerdir=")
		}
	}
	if b, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, b, 0o600); err != nil {
		t.Fatal(err)
	}
	const want = `its root's lowerdir "/etc" is not one of the store's layer dirs`
	for _, args := range [][]string{{"start", "lw"}, {"start", "-a", "lw"}, {"cp", "lw:/passwd", "-"}, {"diff", "lw"}} {
		r := strata(t, root, args...)
		if line := strings.TrimSpace(r.Stderr); r.Code != 1 || !strings.Contains(line, want) || strings.Contains(line, "\n") || strings.Contains(r.Stdout, "root:") {
			t.Errorf("%s: exit %d, stdout %.100q, stderr %q; want 1 and one line with %q", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr, want)
		}
	}
	mustStrata(t, root, "rm", "lw")
}
