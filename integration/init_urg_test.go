package integration

import (
	"strings"
	"testing"
)

// TestInitForwardsURG: --init's reaper forwards SIGURG to the command, as tini does (kill -s
// URG reaches a command that traps it), and the GODEBUG it runs with to that end
// (asyncpreemptoff=1: its runtime then never sends itself SIGURG) is not the command's, which
// keeps its own. The reaper dropped every SIGURG, taking them for its runtime's preemption.
func TestInitForwardsURG(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	t.Cleanup(func() { strata(t, root, "rm", "-f", "urg") })
	mustStrata(t, root, "run", "-d", "--init", "--name", "urg", img, "sh", "-c", "trap 'exit 42' URG; echo ready; while :; do sleep 0.05; done")
	waitFor(t, func() bool { return strings.Contains(strata(t, root, "logs", "urg").Stdout, "ready") })
	mustStrata(t, root, "kill", "-s", "URG", "urg")
	if r := mustStrata(t, root, "wait", "urg"); strings.TrimSpace(r.Stdout) != "42" {
		t.Errorf("wait after kill -s URG = %q, want 42 from the command's URG trap", r.Stdout)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "unset\n"},
		{[]string{"-e", "GODEBUG=x=1"}, "x=1\n"},
	} {
		args := append(append([]string{"run", "--rm", "--init"}, tt.args...), img, "sh", "-c", `echo "${GODEBUG-unset}"`)
		if r := mustStrata(t, root, args...); r.Stdout != tt.want {
			t.Errorf("GODEBUG of a --init command run with %q = %q, want %q", tt.args, r.Stdout, tt.want)
		}
	}
}
