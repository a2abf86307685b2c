package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/lockfile"
)

// TestPrune: -a with --dry-run lists the untag and every blob with the total and removes
// nothing; -a then removes exactly that; a second prune has nothing left to free.
func TestPrune(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	blobs := func() int {
		ents, _ := os.ReadDir(filepath.Join(root, "oci", "blobs", "sha256"))
		return len(ents)
	}
	out, err := strata(t, root, nil, "prune")
	if err != nil || !strings.Contains(out, "Total reclaimed space: 0B") {
		t.Fatalf("prune with nothing unused = %q, %v", out, err)
	}
	dry, err := strata(t, root, nil, "prune", "--dry-run", "-a")
	if err != nil {
		t.Fatalf("prune --dry-run -a = %v", err)
	}
	if !strings.Contains(dry, "Would untag: busybox:1.38.0-musl\n") || strings.Count(dry, "Would delete blob: ") != 3 {
		t.Errorf("prune --dry-run -a = %q, want the untag and three blobs", dry)
	}
	if n := blobs(); n != 3 {
		t.Fatalf("dry run removed blobs: %d left", n)
	}
	// -af as docker scripts write `system prune -af`.
	real, err := strata(t, root, nil, "system", "prune", "-af")
	if err != nil {
		t.Fatalf("system prune -af = %v", err)
	}
	// docker's report: the images untagged and deleted, not the blobs.
	if !strings.Contains(real, "Deleted Images:\nuntagged: busybox:1.38.0-musl\ndeleted: sha256:") {
		t.Errorf("system prune -af = %q, want docker's untagged and deleted lines", real)
	}
	// The dry run promised what the real run freed.
	total := regexp.MustCompile(`space: (\S+)`)
	if a, b := total.FindStringSubmatch(dry), total.FindStringSubmatch(real); a == nil || b == nil || a[1] != b[1] {
		t.Errorf("dry run total %v, real total %v", a, b)
	}
	if n := blobs(); n != 0 {
		t.Errorf("%d blobs left after prune -a", n)
	}
	again, err := strata(t, root, nil, "prune", "-a")
	if err != nil || !strings.Contains(again, "Total reclaimed space: 0B") {
		t.Errorf("second prune -a = %q, %v", again, err)
	}
}

// TestPruneRemovesKilledLoads: the staging dir of a load that was killed (unlocked) goes with
// the next prune, and its bytes count; one a running load holds stays. Only the next load
// removed them, so a root that never loaded again kept a whole archive's worth for good.
func TestPruneRemovesKilledLoads(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "images"); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(root, ".load-123")
	live := filepath.Join(root, ".load-456")
	for _, d := range []string{dead, live} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "0"), make([]byte, 5000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, ok, err := lockfile.TryLock(filepath.Join(live, ".lock"), 0o600, true)
	if err != nil || !ok {
		t.Fatalf("locking %s: %v %v", live, ok, err)
	}
	defer l.Unlock()
	out, err := strata(t, root, nil, "prune")
	if err != nil {
		t.Fatalf("prune = %v", err)
	}
	if _, err := os.Stat(dead); err == nil {
		t.Errorf("prune left the killed load's %s", dead)
	}
	if _, err := os.Stat(filepath.Join(live, "0")); err != nil {
		t.Errorf("prune touched a running load's staging dir: %v", err)
	}
	if !strings.Contains(out, "Total reclaimed space: 5kB") {
		t.Errorf("prune = %q, want the 5kB it freed counted", out)
	}
}
