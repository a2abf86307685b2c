package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
)

// strataOutErr runs strata's command tree with args after --root root: what it printed on
// stdout and stderr, and its error.
func strataOutErr(t *testing.T, root string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCmd(&globals{})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(bytes.NewReader(nil))
	cmd.SetArgs(append([]string{"--root", root}, args...))
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// damagedStore loads busybox and a second image, then loses busybox's config as damage
// does: removed, or with a byte flipped (which the first read finds and removes). It returns
// the root, busybox's config digest, the digest its name points at (manifest or index) and
// its image ID.
func damagedStore(t *testing.T, how string) (root string, config, manifest, id v1.Hash) {
	t.Helper()
	root = t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	store, err := cache.Open((&globals{root: root}).storeDir())
	if err != nil {
		t.Fatal(err)
	}
	other, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.WriteImage(context.Background(), "example.com/ok:1", other, cache.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	ref, err := store.FindImage("docker.io/library/busybox:1.38.0-musl")
	if err != nil {
		t.Fatal(err)
	}
	info, err := store.Info(ref)
	if err != nil {
		t.Fatal(err)
	}
	config, manifest, id = info.ID, info.Manifest.Digest, info.ID
	if len(info.Platforms) > 0 { // loaded as an index
		config = info.Platforms[0].ID
	}
	p := store.BlobPath(config)
	if how == "missing" {
		err = os.Remove(p)
	} else {
		var b []byte
		if b, err = os.ReadFile(p); err == nil {
			b[len(b)/2] ^= 1
			err = os.WriteFile(p, b, 0o644)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return root, config, manifest, id
}

// TestDamagedImageListed: one image whose config is missing or damaged no longer fails
// images, system df and prune for the whole store (each exited 1 with "inspecting …busybox…:
// not found"): it is listed with what is known and one warning line, as docker lists it.
func TestDamagedImageListed(t *testing.T) {
	for _, how := range []string{"missing", "flipped byte"} {
		t.Run(how, func(t *testing.T) {
			root, config, _, id := damagedStore(t, how)
			out, errOut, err := strataOutErr(t, root, "images", "--no-trunc")
			if err != nil {
				t.Fatalf("images = %v (%s), want the store listed", err, errOut)
			}
			if !strings.Contains(out, "example.com/ok") || !strings.Contains(out, "busybox") || !strings.Contains(out, id.String()) {
				t.Errorf("images printed\n%s\nwant example.com/ok, and busybox with its ID %s", out, id)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "warning") || !strings.Contains(errOut, "busybox:1.38.0-musl") {
				t.Errorf("images warned %q, want one line naming busybox", errOut)
			}
			if out, errOut, err := strataOutErr(t, root, "images", "example.com/ok"); err != nil || errOut != "" || !strings.Contains(out, "example.com/ok") {
				t.Errorf("images example.com/ok = %q, %q, %v; want the image, no warning about another", out, errOut, err)
			}

			out, errOut, err = strataOutErr(t, root, "system", "df", "-v", "--format", "json")
			if err != nil {
				t.Fatalf("system df = %v (%s)", err, errOut)
			}
			var u usage
			if err := json.Unmarshal([]byte(out), &u); err != nil {
				t.Fatal(err)
			}
			damaged := 0
			for _, im := range u.Images {
				if im.Damaged != "" {
					damaged++
				}
			}
			if len(u.Images) != 2 || damaged != 1 || strings.Count(errOut, "\n") != 1 {
				t.Errorf("system df: %d images, %d damaged, warned %q; want 2, 1, one line", len(u.Images), damaged, errOut)
			}

			out, _, err = strataOutErr(t, root, "prune", "-a", "--dry-run")
			if err != nil || !strings.Contains(out, "Would untag: busybox:1.38.0-musl") || strings.Contains(out, config.String()) {
				t.Errorf("prune -a --dry-run = %v:\n%s\nwant busybox untagged, its missing config not listed as freed", err, out)
			}
			if out, _, err = strataOutErr(t, root, "prune"); err != nil || !strings.Contains(out, "Total reclaimed space") {
				t.Errorf("prune = %q, %v", out, err)
			}
		})
	}
}

// TestRmiDamagedImage: rmi (by name, with -f, or by ID) of an image whose config is gone
// untags it and the collection removes the rest; other images' rmi is not failed by it.
// Before, rmi of the broken image failed as it could not be described, and rmi of any other
// printed "Untagged" and then failed in the collection.
func TestRmiDamagedImage(t *testing.T) {
	for _, args := range [][]string{{"rmi"}, {"rmi", "-f"}, {"image", "rm"}, {"rmi", "ID"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			root, _, manifest, id := damagedStore(t, "missing")
			if _, err := strata(t, root, nil, "tag", "example.com/ok:1", "example.com/ok:2"); err != nil {
				t.Fatal(err)
			}
			if out, err := strata(t, root, nil, "rmi", "example.com/ok:2"); err != nil || out != "Untagged: example.com/ok:2\n" {
				t.Errorf("rmi of another image = %q, %v; want it untagged, exit 0", out, err)
			}
			arg := "busybox:1.38.0-musl"
			if args[len(args)-1] == "ID" {
				args, arg = args[:len(args)-1], id.Hex[:12]
			}
			out, err := strata(t, root, nil, append(args, arg)...)
			if err != nil || out != "Untagged: busybox:1.38.0-musl\n" {
				t.Errorf("%s %s = %q, %v; want it untagged", strings.Join(args, " "), arg, out, err)
			}
			if out, err := strata(t, root, nil, "images", "--format", "{{.Repository}}:{{.Tag}}"); err != nil || out != "example.com/ok:1\n" {
				t.Errorf("images after = %q, %v; want only example.com/ok:1", out, err)
			}
			if _, err := os.Stat((&globals{root: root}).storeDir() + "/blobs/sha256/" + manifest.Hex); !os.IsNotExist(err) {
				t.Errorf("the damaged image's manifest blob after rmi: %v, want it collected", err)
			}
		})
	}
}

// TestPruneCorruptIndex: a prune that fails prints no "Total reclaimed space: 0B" above its
// error, as if it had worked and found nothing.
func TestPruneCorruptIndex(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile((&globals{root: root}).storeDir()+"/index.json", []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"prune"}, {"prune", "--dry-run"}, {"system", "prune", "-a", "-f"}} {
		out, _, err := strataOutErr(t, root, args...)
		if err == nil || strings.Contains(out, "Total") {
			t.Errorf("%s on a corrupt index.json = %q, %v; want the error alone", strings.Join(args, " "), out, err)
		}
	}
}
