package integration

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestDanglingImageByID: a container runs from alpine:latest, then the tag moves to busybox
// (its other name removed with rmi -f): the container's image is dangling, and docker finds
// it by its ID, short or full, as any image. run, image inspect, save and tag of the ID work
// on it, and container inspect's layers are its blobs, not the moved tag's. strata said
// "not in the store" for each, and inspect gave the layers no blob (it read busybox's).
func TestDanglingImageByID(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "dangleid") })
	id := strings.TrimSpace(mustStrata(t, root, "images", "-q", "--no-trunc", "alpine:latest").Stdout)
	short := strings.TrimPrefix(id, "sha256:")[:12]
	mustStrata(t, root, "run", "-d", "--name", "dangleid", "alpine:latest", "sleep", "60")
	before := lowerBlobs(t, root, "dangleid")
	if len(before) == 0 {
		t.Fatalf("inspect dangleid: no layer blobs while alpine:latest names its image")
	}
	mustStrata(t, root, "rmi", "-f", "alpine:3.20.3")
	mustStrata(t, root, "tag", "busybox:1.38.0-musl", "alpine:latest")
	if out := mustStrata(t, root, "images", "-q", "--filter", "dangling=true").Stdout; out != short+"\n" {
		t.Fatalf("images -q --filter dangling=true = %q, want %s", out, short)
	}

	// The container's layers are its image's blobs, not busybox's (alpine:latest now).
	after := lowerBlobs(t, root, "dangleid")
	if strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("inspect dangleid layer blobs after the tag moved = %v, want %v", after, before)
	}

	for _, arg := range []string{short, id, strings.TrimPrefix(id, "sha256:"), "sha256:" + short} {
		if r := strata(t, root, "run", "--rm", arg, "cat", "/etc/alpine-release"); r.Code != 0 || !strings.HasPrefix(r.Stdout, "3.") {
			t.Errorf("run %s = exit %d, %q, %q; want alpine's release", arg, r.Code, r.Stdout, r.Stderr)
		}
		if r := strata(t, root, "image", "inspect", "--format", "{{.Id}}", arg); r.Code != 0 || r.Stdout != id+"\n" {
			t.Errorf("image inspect %s = exit %d, %q, %q; want %s", arg, r.Code, r.Stdout, r.Stderr, id)
		}
	}
	tarball := filepath.Join(t.TempDir(), "old.tar")
	mustStrata(t, root, "save", "-o", tarball, short)
	other := newRoot(t)
	mustStrata(t, other, "load", "-q", "--name", "old:1", "-i", tarball)
	// A docker-archive holds the platform image of an index: the same layers.
	layers := mustStrata(t, root, "image", "inspect", "--format", "{{json .RootFS.Layers}}", short).Stdout
	if out := mustStrata(t, other, "image", "inspect", "--format", "{{json .RootFS.Layers}}", "old:1").Stdout; out != layers {
		t.Errorf("layers of old:1 after load of save %s = %q, want %q", short, out, layers)
	}
	if r := strata(t, root, "rmi", short); r.Code == 0 || !strings.Contains(r.Stderr, "conflict: unable to delete "+short) {
		t.Errorf("rmi %s = exit %d, %q; want docker's conflict", short, r.Code, r.Stderr)
	}

	mustStrata(t, root, "tag", short, "alpine:old")
	if out := mustStrata(t, root, "images", "-q", "--no-trunc", "alpine:old").Stdout; out != id+"\n" {
		t.Errorf("images alpine:old = %q, want %s", out, id)
	}
}

// lowerBlobs are the DiffID=digest pairs of the layers of running container name's root, as
// container inspect's Process card gives them.
func lowerBlobs(t *testing.T, root, name string) []string {
	t.Helper()
	var out []struct {
		Process struct {
			RootFS struct {
				Lowers []struct{ DiffID, Digest string }
			}
		}
	}
	if err := json.Unmarshal([]byte(mustStrata(t, root, "inspect", name).Stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v", name, err)
	}
	var blobs []string
	for _, l := range out[0].Process.RootFS.Lowers {
		if l.Digest != "" {
			blobs = append(blobs, l.DiffID+"="+l.Digest)
		}
	}
	return blobs
}
