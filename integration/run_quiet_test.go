package integration

import (
	"regexp"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/internal/testutil"
)

// TestRunPullQuiet: create and run -q print nothing of a --pull's progress, as docker's
// -q/--quiet (it was an unknown flag); the container ID alone is on stdout. Without -q the
// progress is on stderr.
func TestRunPullQuiet(t *testing.T) {
	t.Parallel()
	testutil.Requires(t, testutil.Root)
	f := startFront(t, frontAuth{}, nil)
	root, env := newRoot(t), testEnv(t.TempDir())
	ref := f.Host + "/library/alpine:" + testimages.AlpineVersion
	t.Cleanup(func() { run(t, env, "", root, "rm", "-f", "rq1", "rq2") })
	id := regexp.MustCompile(`^[0-9a-f]{64}\n$`)
	r := mustRun(t, env, "", root, "create", "-q", "--pull", "always", "--name", "rq1", ref, "true")
	if r.Stderr != "" || !id.MatchString(r.Stdout) {
		t.Errorf("create -q --pull always: stdout %q, stderr %q; want the ID alone, nothing on stderr", r.Stdout, r.Stderr)
	}
	r = mustRun(t, env, "", root, "create", "--pull", "always", "--name", "rq2", ref, "true")
	if !strings.Contains(r.Stderr, "Status: ") || !id.MatchString(r.Stdout) {
		t.Errorf("create --pull always: stdout %q, stderr %q; want the ID, and the pull's status on stderr", r.Stdout, r.Stderr)
	}
}
