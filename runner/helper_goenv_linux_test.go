package runner

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
)

// TestHelpersRunAtOneP: a detached container's monitor runs its Go runtime at one P (oneP),
// whatever the host's CPUs, and the container's command has none of it: its environment is
// the container's.
func TestHelpersRunAtOneP(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "100")
	environ := func(pid int) []string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			t.Fatal(err)
		}
		var vars []string
		for _, v := range bytes.Split(b, []byte{0}) {
			if len(v) > 0 {
				vars = append(vars, string(v))
			}
		}
		return vars
	}
	if env := environ(c.State.MonitorPid); !slices.Contains(env, oneP) {
		t.Errorf("monitor's environment %q lacks %s", env, oneP)
	}
	if env := environ(c.State.Pid); slices.ContainsFunc(env, func(v string) bool { return strings.HasPrefix(v, "GOMAXPROCS=") }) {
		t.Errorf("the container's command got the helpers' GOMAXPROCS: %q", env)
	}
}
