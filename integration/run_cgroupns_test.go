package integration

import (
	"os"
	"strings"
	"testing"
)

// TestRunCgroupns: docker's --cgroupns. By default, and with private, the container has a
// cgroup namespace of its own, rooted at its cgroup: /proc/self/cgroup shows "/" for it. With
// host it keeps the host's: its cgroups show by their host paths, which name the container,
// in the process and in one exec runs, and again after a restart (the mode is the
// container's, in its config); the cgroup filesystems it sees stay read-only.
func TestRunCgroupns(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	host, err := os.Readlink("/proc/self/ns/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	const show = "readlink /proc/self/ns/cgroup; hostname; cat /proc/self/cgroup"
	// check judges show's output: the namespace, and whether a cgroup line names the
	// container (its hostname is the short ID).
	check := func(what, out string, wantHost bool) {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 3 {
			t.Fatalf("%s: printed %q", what, out)
		}
		ns, short := lines[0], lines[1]
		named := strings.Contains(strings.Join(lines[2:], "\n"), "/"+short)
		if wantHost && (ns != host || !named) {
			t.Errorf("%s: cgroup namespace %s (host %s), /proc/self/cgroup %q; want the host's namespace and the container's cgroup by its host path", what, ns, host, lines[2:])
		}
		if !wantHost && (ns == host || named) {
			t.Errorf("%s: cgroup namespace %s (host %s), /proc/self/cgroup %q; want a namespace of its own, rooted at its cgroup", what, ns, host, lines[2:])
		}
	}
	for _, args := range [][]string{{}, {"--cgroupns", "private"}, {"--cgroupns="}} {
		r := mustStrata(t, root, append(append([]string{"run", "--rm"}, args...), img, "sh", "-c", show)...)
		check(strings.Join(append([]string{"run"}, args...), " "), r.Stdout, false)
	}
	r := mustStrata(t, root, "run", "--rm", "--cgroupns", "host", img, "sh", "-c", show)
	check("run --cgroupns host", r.Stdout, true)

	t.Cleanup(func() { strata(t, root, "rm", "-f", "cgns-host") })
	mustStrata(t, root, "run", "-d", "--name", "cgns-host", "--cgroupns", "host", img, "sleep", "600")
	check("exec in a --cgroupns host container", mustStrata(t, root, "exec", "cgns-host", "sh", "-c", show).Stdout, true)
	mustStrata(t, root, "restart", "-t", "0", "cgns-host")
	check("exec after restart", mustStrata(t, root, "exec", "cgns-host", "sh", "-c", show).Stdout, true)
	// The host's hierarchies, not the container's own cgroups, are what it sees: none may
	// take a new cgroup from it.
	r = mustStrata(t, root, "exec", "cgns-host", "sh", "-c",
		`for d in /sys/fs/cgroup /sys/fs/cgroup/*/; do mkdir "$d/strata-cgns-test" 2>/dev/null && rmdir "$d/strata-cgns-test" && echo "made in $d"; done; true`)
	if r.Stdout != "" {
		t.Errorf("a --cgroupns host container could make cgroups: %q", r.Stdout)
	}
}
