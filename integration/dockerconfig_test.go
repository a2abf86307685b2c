package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/internal/testutil"
)

// TestBrokenDockerConfig: a ~/.docker/config.json that is not JSON makes pull and push print
// one warning naming it and go on without credentials, as docker does ("WARNING: Error loading
// config file"). login fails on it, and leaves it as it was.
func TestBrokenDockerConfig(t *testing.T) {
	t.Parallel() // its own registry, root and HOME
	testutil.Requires(t, testutil.Root)
	f := startFront(t, frontAuth{}, nil)
	home := t.TempDir()
	cfg := filepath.Join(home, ".docker", "config.json")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	const broken = "{\"auths\": {broken"
	if err := os.WriteFile(cfg, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	root, env := newRoot(t), testEnv(home)
	ref := f.Host + "/library/alpine:" + testimages.AlpineVersion

	checkOneWarning := func(what string, r result) {
		t.Helper()
		var warnings []string
		for _, l := range strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n") {
			if strings.Contains(l, "config.json") {
				warnings = append(warnings, l)
			}
		}
		if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "strata: warning: ") || !strings.Contains(warnings[0], cfg) {
			t.Errorf("%s: stderr = %q, want one warning naming %s", what, r.Stderr, cfg)
		}
	}
	checkOneWarning("pull", mustRun(t, env, "", root, "pull", "--no-unpack", ref))
	mustRun(t, env, "", root, "tag", ref, f.Host+"/alice/alpine:1")
	checkOneWarning("push", mustRun(t, env, "", root, "push", f.Host+"/alice/alpine:1"))

	checkFailed(t, run(t, env, "s3cret\n", root, "login", "-u", "alice", "--password-stdin", f.Host), cfg)
	if got, err := os.ReadFile(cfg); err != nil || string(got) != broken {
		t.Errorf("config.json after a failed login = %q, %v, want it untouched", got, err)
	}
}
