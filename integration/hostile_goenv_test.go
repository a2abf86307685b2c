package integration

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestHostileGoRuntimeEnv: an image's ENV of the variables the Go runtime reads as it starts
// (GODEBUG, GOMAXPROCS, GOMEMLIMIT…) is the command's, not strata's own Go programs' that run
// in its place: --init's reaper and exec's limits-exec ran under them, so the container's
// stderr got the runtime's traces, and the reaper, with 200 Ps and a memory limit of a byte
// under --pids-limit 12, died of "fatal error: newosproc" with a dump of its goroutines
// (exit 2). The command still gets the environment as the image set it, a name that looks
// like strata's hiding of one too.
func TestHostileGoRuntimeEnv(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const ref = "hostile/goenv:1"
	env := []string{"GODEBUG=inittrace=1,gctrace=1", "GOMAXPROCS=200", "GOMEMLIMIT=1", "GOGC=1", "GOTRACEBACK=crash", "STRATA_CMD_GOGC=mine"}
	loadConfigImage(t, root, ref, nil, nil, func(c *v1.Config) { c.Env = append(c.Env, env...) })
	// One process, env itself: --pids-limit 12 leaves the command few.
	show := []string{"env"}
	want := strings.Join(env, "\n") + "\n"
	goVars := func(out string) string {
		var b strings.Builder
		for _, l := range strings.SplitAfter(out, "\n") {
			if strings.HasPrefix(l, "GO") || strings.HasPrefix(l, "STRATA_") {
				b.WriteString(l)
			}
		}
		return b.String()
	}

	for i := range 3 {
		r := strata(t, root, append([]string{"run", "--rm", "--init", "--pids-limit", "12", ref}, show...)...)
		if r.Code != 0 || goVars(r.Stdout) != want || r.Stderr != "" {
			t.Errorf("run --init %d: exit %d, stdout %q, stderr %.300q (%d lines); want 0, %q and no stderr", i, r.Code, r.Stdout, r.Stderr, strings.Count(r.Stderr, "\n"), want)
			break
		}
	}

	// A finite RLIMIT_DATA: exec's command starts through limits-exec.
	id := strings.TrimSpace(mustStrata(t, root, "run", "-d", "--ulimit", "data=1000000000", ref, "sleep", "600").Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
	r := strata(t, root, append([]string{"exec", id}, show...)...)
	if r.Code != 0 || goVars(r.Stdout) != want || r.Stderr != "" {
		t.Errorf("exec under --ulimit data: exit %d, stdout %q, stderr %.300q; want 0, %q and no stderr", r.Code, r.Stdout, r.Stderr, want)
	}
	mustStrata(t, root, "rm", "-f", id)
}
