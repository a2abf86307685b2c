package integration

import (
	"strings"
	"testing"
)

// TestUsernsHost: docker's --userns host is taken, as the mode every strata container has
// (the host's user namespace: uid 0 inside is uid 0 outside), and inspect shows it as docker's
// HostConfig.UsernsMode; any other mode is refused as docker's CLI refuses it ("--userns:
// invalid USER mode"), exit 125 and no container. strata refused the flag as unknown, so a
// docker command line written for a daemon with userns-remap failed here.
func TestUsernsHost(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "un-host", "un-default", "un-bad") })
	if r := mustStrata(t, root, "run", "--rm", "--userns", "host", "alpine", "cat", "/proc/self/uid_map"); strings.Join(strings.Fields(r.Stdout), " ") != "0 0 4294967295" {
		t.Errorf("uid_map with --userns host = %q, want the host's", r.Stdout)
	}
	mustStrata(t, root, "create", "--name", "un-host", "--userns=host", "alpine", "true")
	mustStrata(t, root, "create", "--name", "un-default", "alpine", "true")
	for name, want := range map[string]string{"un-host": "host", "un-default": ""} {
		if got := mustStrata(t, root, "inspect", "-f", "{{.HostConfig.UsernsMode}}", name).Stdout; got != want+"\n" {
			t.Errorf("inspect %s UsernsMode = %q, want %q", name, got, want)
		}
	}
	for _, mode := range []string{"private", "keep-id", "container:un-host"} {
		r := strata(t, root, "create", "--name", "un-bad", "--userns", mode, "alpine", "true")
		if r.Code != 125 || !strings.Contains(r.Stderr, "--userns: invalid USER mode") || strings.Count(r.Stderr, "\n") != 1 {
			t.Errorf("create --userns %s: exit %d, stderr %q; want 125 and docker's error", mode, r.Code, r.Stderr)
		}
	}
	if ps := mustStrata(t, root, "ps", "-aq", "--filter", "name=un-bad").Stdout; ps != "" {
		t.Errorf("a refused create left a container: %q", ps)
	}
}
