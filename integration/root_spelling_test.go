package integration

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRootSpelledTwoWays: a container created through one spelling of the store's path (a
// symlink to it) starts through another (the path itself), and the other way round: the
// check that its writable layer is in its own dir compared the two as strings, and refused
// it ("its writable layer … is not in the container's dir").
func TestRootSpelledTwoWays(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	link := filepath.Join(t.TempDir(), "store")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { strata(t, root, "rm", "-f", "rs-link", "rs-real") })
	mustStrata(t, link, "create", "--name", "rs-link", "alpine", "echo", "via link")
	if r := strata(t, root, "start", "-a", "rs-link"); r.Code != 0 || r.Stdout != "via link\n" {
		t.Errorf("start -a through the real path of a container created through a symlink = exit %d, %q, %q", r.Code, r.Stdout, r.Stderr)
	}
	mustStrata(t, root, "create", "--name", "rs-real", "-v", "/data", "alpine", "sh", "-c", "echo ok > /data/f && cat /data/f")
	if r := strata(t, link, "start", "-a", "rs-real"); r.Code != 0 || r.Stdout != "ok\n" {
		t.Errorf("start -a through a symlink of a container created through the real path = exit %d, %q, %q", r.Code, r.Stdout, r.Stderr)
	}
}
