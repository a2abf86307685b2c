package main

import (
	"strings"
	"testing"
)

// TestPullOfflineByRepoDigest: pull --offline NAME@DIGEST is satisfied by the image pulled as
// NAME:TAG whose digest that is, the index digest pull printed as "Digest:" included, as run
// and image inspect find it; it said "not in the store" for the index digest. Another
// repository's name with that digest is still not in the store.
func TestPullOfflineByRepoDigest(t *testing.T) {
	host := fixtureRegistry(t)
	root := t.TempDir()
	name := host + "/library/alpine"
	if _, err := strata(t, root, nil, "pull", "-q", "--no-unpack", name); err != nil {
		t.Fatal(err)
	}
	manifest := storedDigest(t, root, name)
	for _, d := range []string{alpineIndex, manifest} {
		arg := name + "@" + d
		out, err := strata(t, root, nil, "pull", "--offline", arg)
		if err != nil || !strings.Contains(out, "Status: Image is up to date") || !strings.Contains(out, "Digest: "+alpineIndex) {
			t.Errorf("pull --offline %s = %q, %v; want up to date, Digest: %s", arg, out, err, alpineIndex)
		}
	}
	other := host + "/library/busybox@" + alpineIndex
	if _, err := strata(t, root, nil, "pull", "--offline", other); err == nil || !strings.Contains(err.Error(), "not in the store") {
		t.Errorf("pull --offline %s = %v, want not in the store", other, err)
	}
}
