package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
)

// TestImagesSinceDanglingID: since= and before= of a dangling image's ID take its creation
// time, not another dangling image's: with two, findRef finds either by ID with no name, and
// the first row with no name was taken for both.
func TestImagesSinceDanglingID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates containers")
	}
	root := t.TempDir()
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = strata(t, root, nil, "rm", "-f", "c1")
		_, _ = strata(t, root, nil, "rm", "-f", "c2")
	})
	var ids []string
	for i, created := range []time.Time{time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)} {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.CreatedAt(img, v1.Time{Time: created}); err != nil {
			t.Fatal(err)
		}
		name := []string{"docker.io/library/a:1", "docker.io/library/b:1"}[i]
		if _, err := store.WriteImage(context.Background(), name, img, cache.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		id, _ := img.ConfigName()
		ids = append(ids, shortID(id.String()))
		if _, err := strata(t, root, nil, "create", "--name", []string{"c1", "c2"}[i], name, "true"); err != nil {
			t.Skipf("create from a random image: %v", err)
		}
	}
	if _, err := strata(t, root, nil, "rmi", "-f", "a:1", "b:1"); err != nil {
		t.Fatal(err)
	}
	if out, err := strata(t, root, nil, "images", "-q", "--filter", "since="+ids[0]); err != nil || out != ids[1]+"\n" {
		t.Errorf("images -q --filter since=%s = %q, %v; want %s", ids[0], out, err, ids[1])
	}
	if out, err := strata(t, root, nil, "images", "-q", "--filter", "before="+ids[1]); err != nil || out != ids[0]+"\n" {
		t.Errorf("images -q --filter before=%s = %q, %v; want %s", ids[1], out, err, ids[0])
	}
}
