package integration

import (
	"strings"
	"testing"
)

// TestExecWorkdirProcSelf: exec -w through /proc/self/cwd or /proc/self/root enters the
// container's root as docker's runc does (its init, in the container's pid namespace, has its
// cwd and root there when it enters the working directory): strata's helper, outside that
// namespace, found no /proc/self in the container's /proc ("no such file or directory").
// Other paths under /proc/self are refused in a line, with 126 as a working directory that
// cannot be entered; the check that the working directory lies in the container stays.
func TestExecWorkdirProcSelf(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	detached(t, root, "--name", "wp", "alpine", "sleep", "1000")
	for w, want := range map[string]string{
		"/proc/self/cwd":            "/\n",
		"/proc/self/root/tmp":       "/tmp\n",
		"/proc/thread-self/cwd/etc": "/etc\n",
		"/proc/1/root/tmp":          "/tmp\n",
	} {
		if r := strata(t, root, "exec", "-w", w, "wp", "pwd"); r.Code != 0 || r.Stdout != want {
			t.Errorf("exec -w %s pwd = exit %d, %q, stderr %q; want %q", w, r.Code, r.Stdout, r.Stderr, want)
		}
	}
	for _, w := range []string{"/proc/self", "/proc/self/fd/0"} {
		r := strata(t, root, "exec", "-w", w, "wp", "pwd")
		if r.Code != 126 || strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, "working directory "+w+": ") || strings.Contains(r.Stderr, "no such file") {
			t.Errorf("exec -w %s = exit %d, stderr %q; want 126 and a line saying why", w, r.Code, r.Stderr)
		}
	}
}
