package main

import (
	"runtime"
	"strings"
	"testing"
)

// TestPullOfflinePlatform: pull --offline is satisfied only by the image for the platform
// asked for (--platform, else this host's), as the pull it stands for would be: an image
// stored from an index for another platform said "Image is up to date", and a script that
// asked for arm64 went on with the amd64 image (or the other way round), which the online
// pull would have replaced.
func TestPullOfflinePlatform(t *testing.T) {
	host := fixtureRegistry(t)
	root := t.TempDir()
	name := host + "/library/alpine"
	other := "linux/arm64"
	if runtime.GOARCH == "arm64" {
		other = "linux/amd64"
	}
	if _, err := strata(t, root, nil, "pull", "-q", "--no-unpack", "--platform", other, name); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--platform", other}, true},
		{nil, false},
		{[]string{"--platform", "linux/" + runtime.GOARCH}, false},
		{[]string{"--all-platforms"}, false},
	} {
		args := append(append([]string{"pull", "--offline"}, tt.args...), name)
		out, err := strata(t, root, nil, args...)
		switch {
		case tt.ok && (err != nil || !strings.Contains(out, "Status: Image is up to date")):
			t.Errorf("%s = %q, %v; want up to date", strings.Join(args, " "), out, err)
		case !tt.ok && (err == nil || !strings.Contains(err.Error(), "--offline") || strings.Contains(err.Error(), "\n")):
			t.Errorf("%s = %q, %v; want one line saying the store has another platform and --offline forbids the network", strings.Join(args, " "), out, err)
		}
	}
	// The whole index stored: any platform it lists, and no other.
	whole := t.TempDir()
	if _, err := strata(t, whole, nil, "pull", "-q", "--no-unpack", "--all-platforms", name); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{other, "linux/" + runtime.GOARCH} {
		if out, err := strata(t, whole, nil, "pull", "--offline", "--platform", p, name); err != nil || !strings.Contains(out, "Status: Image is up to date") {
			t.Errorf("pull --offline --platform %s of a stored index = %q, %v; want up to date", p, out, err)
		}
	}
	if _, err := strata(t, whole, nil, "pull", "--offline", "--platform", "linux/s390x", name); err == nil || !strings.Contains(err.Error(), "linux/s390x") {
		t.Errorf("pull --offline --platform linux/s390x of a stored index without it = %v, want an error naming the platform", err)
	}
}
