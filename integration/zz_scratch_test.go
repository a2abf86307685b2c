package integration

import "testing"

func TestZZScratch(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	ref := reg.Host + "/library/alpine:3.20.3"
	mustStrata(t, root, "pull", ref)
	detached(t, root, "--name", "web", "--memory", "64m", ref, "sleep", "1000")
	mustStrata(t, root, "exec", "-d", "web", "sleep", "500")
	for _, args := range [][]string{{"inspect", "--proc", "web"}, {"explain", "web"}, {"top", "web"}, {"stats", "--no-stream"}, {"inspect", "web"}, {"exec", "web", "ps"}} {
		r := strata(t, root, args...)
		t.Logf("$ strata %v (exit %d)\n%s%s", args, r.Code, r.Stdout, r.Stderr)
	}
}
