package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPruneKeepsDanglingImageOfContainer is the audit's case: a container made from
// alpine:latest, then the tag moved to busybox. Docker keeps the container's image, dangling,
// while the container uses it: images lists it as <none>:<none>, ps shows its short ID, prune
// (and prune -a) keep its manifest, config and layers, rmi of its ID is refused. strata lost
// it from images, ps said the container runs alpine:latest (busybox now), and prune deleted
// its blobs. A run of the moved tag runs the new image; tag names the old one again.
func TestPruneKeepsDanglingImageOfContainer(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "dangle") })
	id := strings.TrimSpace(mustStrata(t, root, "images", "-q", "--no-trunc", "alpine:latest").Stdout)
	short := strings.TrimPrefix(id, "sha256:")[:12]
	mustStrata(t, root, "create", "--name", "dangle", "alpine:latest", "cat", "/etc/alpine-release")
	mustStrata(t, root, "rmi", "alpine:3.20.3") // another name of the image: only untagged
	mustStrata(t, root, "tag", "busybox:1.38.0-musl", "alpine:latest")
	blobs := func() []string {
		entries, err := os.ReadDir(filepath.Join(root, "oci", "blobs", "sha256"))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	before := blobs()

	if out := mustStrata(t, root, "images", "-a", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").Stdout; !strings.Contains(out, "<none>:<none> "+short+"\n") {
		t.Errorf("images -a = %q; want the container's image as <none>:<none> %s", out, short)
	}
	if out := mustStrata(t, root, "images", "-q", "--filter", "dangling=true").Stdout; out != short+"\n" {
		t.Errorf("images -q --filter dangling=true = %q, want %s", out, short)
	}
	if out := mustStrata(t, root, "ps", "-a", "--filter", "name=dangle", "--format", "{{.Image}}").Stdout; out != short+"\n" {
		t.Errorf("ps -a IMAGE = %q; want the image's short ID %s, not alpine:latest (busybox now)", out, short)
	}
	if out := mustStrata(t, root, "prune").Stdout; strings.Contains(out, "blob:") || strings.Contains(out, "layer:") {
		t.Errorf("prune = %q; want nothing of the container's image deleted", out)
	}
	if after := blobs(); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("blobs after prune = %v, want %v", after, before)
	}
	if out := mustStrata(t, root, "prune", "-a", "--dry-run").Stdout; strings.Contains(out, id) || strings.Contains(out, "layer:") {
		t.Errorf("prune -a --dry-run = %q; want nothing of the container's image (%s) deleted", out, short)
	}
	if r := strata(t, root, "rmi", short); r.Code == 0 || !strings.Contains(r.Stderr, "conflict: unable to delete "+short+" (must be forced) - image is being used by stopped container") {
		t.Errorf("rmi %s = exit %d, %q; want docker's conflict", short, r.Code, r.Stderr)
	}
	// The moved tag runs the new image; the container its own.
	if r := strata(t, root, "run", "--rm", "alpine:latest", "cat", "/etc/alpine-release"); r.Code == 0 {
		t.Errorf("run alpine:latest (busybox now) found /etc/alpine-release: %q", r.Stdout)
	}
	mustStrata(t, root, "start", "dangle")
	mustStrata(t, root, "wait", "dangle")
	if out := mustStrata(t, root, "logs", "dangle").Stdout; !strings.HasPrefix(out, "3.") {
		t.Errorf("logs dangle = %q, want alpine's release", out)
	}
	// prune -a takes the images no container uses, and keeps this one.
	mustStrata(t, root, "prune", "-a")
	// Named again, the image is whole: save reads every blob against its digest.
	mustStrata(t, root, "tag", short, "alpine:old")
	mustStrata(t, root, "save", "-o", filepath.Join(t.TempDir(), "old.tar"), "alpine:old")
	if out := mustStrata(t, root, "ps", "-a", "--filter", "name=dangle", "--format", "{{.Image}}").Stdout; out != short+"\n" {
		t.Errorf("ps -a IMAGE after tag alpine:old = %q, want %s", out, short)
	}
	// Untagged and the container gone, the image is garbage.
	mustStrata(t, root, "rmi", "-f", "alpine:old")
	if out := mustStrata(t, root, "images", "-q", "--filter", "dangling=true").Stdout; out != short+"\n" {
		t.Errorf("images -q --filter dangling=true after rmi -f = %q, want %s", out, short)
	}
	mustStrata(t, root, "rm", "dangle")
	if out := mustStrata(t, root, "prune").Stdout; !strings.Contains(out, "Deleted blob: "+id) {
		t.Errorf("prune after rm = %q; want the image's config %s deleted", out, id)
	}
	if out := mustStrata(t, root, "images", "-q", "--filter", "dangling=true").Stdout; out != "" {
		t.Errorf("images --filter dangling=true after rm and prune = %q, want none", out)
	}
}
