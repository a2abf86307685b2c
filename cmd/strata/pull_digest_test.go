package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/registry"
	"github.com/strata-run/strata/serve"
)

// busyboxIndex is the digest of the fixtures' busybox index (testimages.WriteLayout).
const busyboxIndex = "sha256:7f7720335dfa818ad7d73a8718f6c7a402e8fa33ad4d2ec32aff212e991efd37"

// alpineIndex is the digest of the fixtures' two-platform alpine index, what a pull of
// alpine prints as "Digest:".
const alpineIndex = "sha256:04574bec7a1dd0da60ad03877180f3fc9ed01d494766ae195f3af7bfe92c05f4"

// fixtureRegistry serves the fixture images (alpine:latest and :3.20.3, the two-platform
// index, and busybox:1.38.0-musl) over plain HTTP on 127.0.0.1, as `strata serve` does, and
// returns its host:port.
func fixtureRegistry(t *testing.T) string {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if err := testimages.WriteLayout(td, dir); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if _, err := strata(t, src, nil, "load", "-q", "-i", dir); err != nil {
		t.Fatal(err)
	}
	store, err := cache.Open(filepath.Join(src, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(serve.New(store, serve.Options{}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// storedDigest is the digest of the manifest (or index) root holds under name, what
// images --digests shows.
func storedDigest(t *testing.T, root, name string) string {
	t.Helper()
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := registry.ParseReference(name)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := store.Resolve(ref.String())
	if err != nil {
		t.Fatal(err)
	}
	return desc.Digest.String()
}

// TestLocalNameByRepoDigest: after a pull of one platform of an index, NAME@DIGEST names the
// image locally for the digest pull printed (the index, in RepoDigests) and for the one
// images --digests shows (the platform's manifest), as docker resolves it; in image
// inspect, tag, run (findLocalImage) alike. Another repository's name with that digest
// does not, and a miss names the whole reference.
func TestLocalNameByRepoDigest(t *testing.T) {
	host := fixtureRegistry(t)
	root := t.TempDir()
	name := host + "/library/alpine"
	out, err := strata(t, root, nil, "pull", "--no-unpack", name)
	if err != nil || !strings.Contains(out, "Digest: "+alpineIndex) {
		t.Fatalf("pull %s = %q, %v; want Digest: %s", name, out, err, alpineIndex)
	}
	manifest := storedDigest(t, root, name)
	if manifest == alpineIndex {
		t.Fatalf("stored %s is the index, want one platform's manifest", name)
	}
	id, err := strata(t, root, nil, "image", "inspect", "-f", "{{.Id}}", name)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{alpineIndex, manifest} {
		arg := name + "@" + d
		got, err := strata(t, root, nil, "image", "inspect", "-f", "{{.Id}}", arg)
		if err != nil || got != id {
			t.Errorf("image inspect %s = %q, %v; want %q", arg, got, err, id)
		}
		if _, err := strata(t, root, nil, "image", "inspect", name+":other@"+d); err != nil {
			t.Errorf("image inspect with a tag and %s = %v, want the tag ignored", d, err)
		}
		store, err := cache.Open(filepath.Join(root, "oci"))
		if err != nil {
			t.Fatal(err)
		}
		if _, imgID, _, err := findLocalImage(store, arg, registry.DefaultPlatform(), false); err != nil || imgID.String() != strings.TrimSpace(id) {
			t.Errorf("findLocalImage(%s) (run) = %s, %v; want %s", arg, imgID, err, id)
		}
	}
	if _, err := strata(t, root, nil, "tag", name+"@"+alpineIndex, "mine:1"); err != nil {
		t.Errorf("tag %s@%s = %v", name, alpineIndex, err)
	}
	for _, arg := range []string{host + "/library/busybox@" + alpineIndex, "alpine@" + alpineIndex} {
		_, err := strata(t, root, nil, "image", "inspect", arg)
		if err == nil || !strings.Contains(err.Error(), "not in the store") {
			t.Errorf("image inspect %s = %v, want not in the store: another repository", arg, err)
		}
	}
	missing := name + "@sha256:" + strings.Repeat("a", 64)
	_, err = strata(t, root, nil, "image", "inspect", missing)
	if err == nil || !strings.Contains(err.Error(), "image "+missing+" is not in the store") {
		t.Errorf("image inspect %s = %v, want it named whole", missing, err)
	}
	// Hostile input is still cut.
	long := strings.Repeat("x", 2000)
	if _, err := strata(t, root, nil, "image", "inspect", long); err == nil || strings.Contains(err.Error(), long[:200]) {
		t.Errorf("image inspect of 2000 bytes = %v, want it cut", err)
	}
}

// TestPullTagAndDigestRecordsNoTag: pull NAME:TAG@DIGEST pulls by the digest and records
// no tag, as docker: no "latest" row that run or rmi of NAME:latest would not find, and none
// beside the one a pull of the tag makes.
func TestPullTagAndDigestRecordsNoTag(t *testing.T) {
	host := fixtureRegistry(t)
	root := t.TempDir()
	name := host + "/library/alpine"
	out, err := strata(t, root, nil, "pull", "--no-unpack", name+":latest@"+alpineIndex)
	if err != nil {
		t.Fatal(err)
	}
	if want := name + "@" + alpineIndex + "\n"; !strings.HasSuffix(out, want) {
		t.Errorf("pull printed %q, want it to end %q", out, want)
	}
	if _, err := strata(t, root, nil, "image", "inspect", name+":latest"); err == nil {
		t.Errorf("image inspect %s:latest found an image that pull by digest tagged", name)
	}
	if _, err := strata(t, root, nil, "image", "inspect", name+"@"+alpineIndex); err != nil {
		t.Errorf("image inspect %s@%s = %v", name, alpineIndex, err)
	}
	if _, err := strata(t, root, nil, "pull", "--no-unpack", name+":latest"); err != nil {
		t.Fatal(err)
	}
	out, err = strata(t, root, nil, "images", "--format", "{{.Repository}} {{.Tag}}")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, name+" latest\n"); n != 1 {
		t.Errorf("images =\n%s, want one %s latest row, not %d", out, name, n)
	}
}

// TestPullJSONIsJSONOnly: with --progress=json every line on stdout is a JSON object, the
// last one the summary the text's Digest and Status lines give, for a download and for an
// image already up to date, online and offline.
func TestPullJSONIsJSONOnly(t *testing.T) {
	host := fixtureRegistry(t)
	root := t.TempDir()
	name := host + "/library/busybox:1.38.0-musl"
	for _, tt := range []struct {
		args   []string
		status string
	}{
		{[]string{"pull", "--no-unpack", "--progress=json", name}, "downloaded"},
		{[]string{"pull", "--no-unpack", "--progress=json", name}, "up-to-date"},
		{[]string{"pull", "--offline", "--progress=json", name}, "up-to-date"},
	} {
		out, err := strata(t, root, nil, tt.args...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		for _, l := range lines {
			if !json.Valid([]byte(l)) {
				t.Errorf("%v printed %q on stdout, not JSON", tt.args, l)
			}
		}
		var sum pullJSONSummary
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
			t.Fatal(err)
		}
		if want := (pullJSONSummary{Status: tt.status, Ref: name, Digest: busyboxIndex}); sum != want {
			t.Errorf("%v: summary %+v, want %+v", tt.args, sum, want)
		}
	}
	out, err := strata(t, root, nil, "pull", "--help")
	if err != nil || !strings.Contains(out, "JSON lines only") {
		t.Errorf("pull --help = %q, %v; want --progress json described", out, err)
	}
}

// TestOfflineEnvWords: STRATA_OFFLINE is on for 1, true, yes in any case, off for 0, false,
// no and empty, and any other value is an error rather than silently online. The mirror
// is a closed port: going online fails with another error.
func TestOfflineEnvWords(t *testing.T) {
	root := t.TempDir()
	for _, tt := range []struct{ env, want string }{
		{"1", "forbids the network"},
		{"true", "forbids the network"},
		{"TRUE", "forbids the network"},
		{"yes", "forbids the network"},
		{"Yes", "forbids the network"},
		{"0", "pulling alpine"},
		{"false", "pulling alpine"},
		{"no", "pulling alpine"},
		{"", "pulling alpine"},
		{"maybe", `invalid STRATA_OFFLINE="maybe"`},
		{"on", `invalid STRATA_OFFLINE="on"`},
	} {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv("STRATA_OFFLINE", tt.env)
			_, err := strata(t, root, nil, "--registry-mirror", "http://127.0.0.1:1", "pull", "--no-unpack", "alpine")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("STRATA_OFFLINE=%s pull = %v, want %q", tt.env, err, tt.want)
			}
		})
	}
	// serve is given a deadline: one that is not refused serves until it is cancelled.
	t.Setenv("STRATA_OFFLINE", "true")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cmd := newRootCmd(&globals{})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"--root", root, "serve", "--addr", "127.0.0.1:0", "--pull-through", "docker.io"})
	if err := cmd.ExecuteContext(ctx); err == nil || !strings.Contains(err.Error(), "STRATA_OFFLINE=true forbids") {
		t.Errorf("STRATA_OFFLINE=true serve --pull-through = %v, want it refused", err)
	}
}

// TestEnterHelpSaysHostProc: enter --ns pid keeps the host's /proc by design; its help says
// so and how to see the container's processes.
func TestEnterHelpSaysHostProc(t *testing.T) {
	out, err := strata(t, t.TempDir(), nil, "enter", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/proc stays the host's", "strata top CONTAINER"} {
		if !strings.Contains(out, want) {
			t.Errorf("enter --help does not say %q:\n%s", want, out)
		}
	}
}
