package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/cache"
)

// TestRmiByID: as docker, rmi of an image ID removes every name of the image, and refuses
// without -f when those are in more than one repository, rather than untagging one of them.
func TestRmiByID(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", "example.com/bb:1"); err != nil {
		t.Fatal(err)
	}
	ids, err := strata(t, root, nil, "images", "-q")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Fields(ids)[0]
	names := func() string {
		out, err := strata(t, root, nil, "images", "--format", "{{.Repository}}:{{.Tag}}")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(out), " ")
	}
	before := names()
	_, err = strata(t, root, nil, "rmi", id[:6])
	if err == nil || !strings.Contains(err.Error(), "image is referenced in multiple repositories") {
		t.Errorf("rmi %s = %v, want docker's conflict", id[:6], err)
	}
	if got := names(); got != before {
		t.Errorf("images after a refused rmi = %q, want %q", got, before)
	}
	out, err := strata(t, root, nil, "rmi", "-f", id[:6])
	if err != nil || strings.Count(out, "Untagged: ") != 2 {
		t.Errorf("rmi -f %s = %q, %v; want both names untagged", id[:6], out, err)
	}
	if got := names(); got != "" {
		t.Errorf("images after rmi -f = %q, want none", got)
	}
}

// TestRemoveImageWaitsForCreate: rmi and prune -a check that no container uses an image and
// untag it under the store's GC lock, which create and run hold from their image lookup to
// their container's record: a container created meanwhile is seen, and the image stays.
func TestRemoveImageWaitsForCreate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a container")
	}
	const image = "busybox:1.38.0-musl"
	for _, args := range [][]string{{"rmi", image}, {"prune", "-a", "-f"}} {
		t.Run(args[0], func(t *testing.T) {
			root := t.TempDir()
			if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
				t.Fatal(err)
			}
			store, err := cache.Open((&globals{root: root}).storeDir())
			if err != nil {
				t.Fatal(err)
			}
			// A create that has looked the image up and not yet recorded its container.
			release, err := store.Hold(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := strata(t, root, nil, args...)
				done <- err
			}()
			select {
			case err := <-done:
				release()
				t.Fatalf("%s returned (%v) while a create held the store between lookup and record", args[0], err)
			case <-time.After(300 * time.Millisecond):
			}
			t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", "held") })
			if _, err := strata(t, root, nil, "create", "--name", "held", image, "true"); err != nil {
				release()
				t.Fatal(err)
			}
			if err := release(); err != nil {
				t.Fatal(err)
			}
			err = <-done
			if args[0] == "rmi" && (err == nil || !strings.Contains(err.Error(), "conflict: unable to remove repository reference")) {
				t.Errorf("rmi = %v, want docker's conflict: the container created meanwhile uses the image", err)
			}
			if args[0] == "prune" && err != nil {
				t.Errorf("prune -a = %v", err)
			}
			if out, err := strata(t, root, nil, "images", "-q"); err != nil || strings.TrimSpace(out) == "" {
				t.Errorf("images after %s = %q, %v; want the image kept", args[0], out, err)
			}
		})
	}
}
