package main

import (
	"strings"
	"testing"
)

// TestPullByDigestHeader: a pull by digest starts as docker's does, "DIGEST: Pulling from
// REPOSITORY", as a pull by tag starts "TAG: Pulling from REPOSITORY"; NAME:TAG@DIGEST is
// pulled by the digest, so it names the digest too.
func TestPullByDigestHeader(t *testing.T) {
	host := fixtureRegistry(t)
	root := t.TempDir()
	name := host + "/library/alpine"
	for _, tt := range []struct{ arg, want string }{
		{name, "latest: Pulling from library/alpine\n"},
		{name + "@" + alpineIndex, alpineIndex + ": Pulling from library/alpine\n"},
		{name + ":3.20.3@" + alpineIndex, alpineIndex + ": Pulling from library/alpine\n"},
	} {
		out, err := strata(t, root, nil, "pull", "--no-unpack", tt.arg)
		if err != nil {
			t.Fatalf("pull %s: %v", tt.arg, err)
		}
		if !strings.HasPrefix(out, tt.want) {
			t.Errorf("pull %s printed\n%s\nwant it to start %q", tt.arg, out, tt.want)
		}
	}
}
