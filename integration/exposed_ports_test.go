package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/strata-run/strata/internal/jsonvalues"
	"github.com/strata-run/strata/internal/testimages"
)

// everyPortImage is alpine exposing every tcp and udp port, as docker's "EXPOSE 1-65535
// 1-65535/udp" makes it, with Env entries added until its config counts values (as the
// store and the registry client count them) of at least count, when count is not 0; it
// returns the image and its config's count.
func everyPortImage(t *testing.T, count int) (v1.Image, int) {
	t.Helper()
	base := hostAlpine(t)
	cf, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.ExposedPorts = map[string]struct{}{}
	for p := 1; p <= 65535; p++ {
		cf.Config.ExposedPorts[strconv.Itoa(p)+"/tcp"] = struct{}{}
		cf.Config.ExposedPorts[strconv.Itoa(p)+"/udp"] = struct{}{}
	}
	for {
		img, err := mutate.ConfigFile(base, cf)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := img.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		n := jsonvalues.Count(raw)
		if n >= count {
			return img, n
		}
		for i := n; i < count; i++ {
			cf.Config.Env = append(cf.Config.Env, fmt.Sprintf("X%d=1", i))
		}
	}
}

// writeArchive writes img, tagged ref, as a docker save archive and returns its path.
func writeArchive(t *testing.T, ref string, img v1.Image) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	return archive
}

// TestEveryPortExposed: an image whose config exposes every tcp and udp port, which docker
// accepts, loads, pulls, runs, creates, shows in inspect and history, and commits (so does a
// commit of "EXPOSE 1-65535"), where each said "more than 131072 JSON values"; a config of
// one value more than the bound is still refused in one line, by load and by pull.
func TestEveryPortExposed(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	img, _ := everyPortImage(t, 0)
	mustStrata(t, root, "load", "-i", writeArchive(t, "ports/all:1", img))
	mustStrata(t, root, "run", "--rm", "ports/all:1", "true")
	exposed := func(what string, args ...string) int {
		t.Helper()
		r := mustStrata(t, root, args...)
		var out []struct {
			Config struct{ ExposedPorts map[string]struct{} }
		}
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || len(out) != 1 {
			t.Fatalf("%s: %v in %.200q", what, err, r.Stdout)
		}
		return len(out[0].Config.ExposedPorts)
	}
	if n := exposed("inspect the image", "image", "inspect", "ports/all:1"); n != 131070 {
		t.Errorf("image inspect shows %d exposed ports, want 131070", n)
	}
	mustStrata(t, root, "history", "ports/all:1")
	mustStrata(t, root, "create", "--name", "allports", "ports/all:1", "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "allports") })
	if n := exposed("inspect the container", "container", "inspect", "allports"); n != 131070 {
		t.Errorf("container inspect shows %d exposed ports, want 131070", n)
	}
	mustStrata(t, root, "commit", "allports", "ports/committed:1")
	if n := exposed("inspect the commit", "image", "inspect", "ports/committed:1"); n != 131070 {
		t.Errorf("the commit of the container exposes %d ports, want 131070", n)
	}
	mustStrata(t, root, "load", "-i", writeArchive(t, "alpine:"+testimages.AlpineVersion, mustAlpine(t)))
	mustStrata(t, root, "create", "--name", "plain", "alpine:"+testimages.AlpineVersion, "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "plain") })
	mustStrata(t, root, "commit", "-c", "EXPOSE 1-65535", "plain", "ports/tcp:1")
	if n := exposed("inspect the EXPOSE commit", "image", "inspect", "ports/tcp:1"); n != 65535 {
		t.Errorf("commit -c 'EXPOSE 1-65535' exposes %d ports, want 65535", n)
	}

	// At the bound and one value over it.
	at, n := everyPortImage(t, jsonvalues.Max)
	if n != jsonvalues.Max {
		t.Fatalf("the config at the bound counts %d, want %d", n, jsonvalues.Max)
	}
	over, n := everyPortImage(t, jsonvalues.Max+1)
	if n != jsonvalues.Max+1 {
		t.Fatalf("the config over the bound counts %d, want %d", n, jsonvalues.Max+1)
	}
	mustStrata(t, root, "load", "-i", writeArchive(t, "ports/at:1", at))
	mustStrata(t, root, "run", "--rm", "ports/at:1", "true")
	r := strata(t, root, "load", "-i", writeArchive(t, "ports/over:1", over))
	checkRefused(t, "load of a config over the bound", r, 1, "JSON values")

	reg := startMemRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for tag, img := range map[string]v1.Image{"at": at, "over": over} {
		ref, err := name.NewTag(reg.host+"/ports:"+tag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
			t.Fatalf("pushing %s: %v", ref, err)
		}
	}
	pulled := newRoot(t)
	mustStrata(t, pulled, "pull", reg.host+"/ports:at")
	r = strata(t, pulled, "pull", reg.host+"/ports:over")
	checkRefused(t, "pull of a config over the bound", r, 1, "JSON values")
}

// mustAlpine is the test alpine image for this host.
func mustAlpine(t *testing.T) v1.Image {
	t.Helper()
	img := hostAlpine(t)
	return img
}
