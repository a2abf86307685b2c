package integration

import (
	"strconv"
	"strings"
	"testing"
)

// TestHealthcheckPaused: a paused container with a healthcheck is unhealthy (inspect
// State.Health.Status, ps --filter health=unhealthy) and ps shows it "Up … (Paused)", as
// docker's pause stops the health monitor, which leaves it unhealthy (moby
// CloseMonitorChannel); after the unpause it stays unhealthy until a check's result changes
// it: a failure short of the retries leaves it unhealthy, a success makes it healthy. strata
// showed the status from before the pause throughout.
func TestHealthcheckPaused(t *testing.T) {
	root := busyboxRoot(t)
	mustStrata(t, root, "run", "-d", "--name", "hpause", "--health-cmd", "test -e /tmp/ok", "--health-interval", "100ms",
		"--health-retries", "1000", "busybox:1.38.0-musl", "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "hpause") })
	health := func() (string, int) {
		f := strings.Fields(strata(t, root, "inspect", "-f", "{{.State.Health.Status}} {{.State.Health.FailingStreak}}", "hpause").Stdout)
		if len(f) != 2 {
			return "", 0
		}
		n, _ := strconv.Atoi(f[1])
		return f[0], n
	}
	mustStrata(t, root, "exec", "hpause", "touch", "/tmp/ok")
	waitFor(t, func() bool { s, _ := health(); return s == "healthy" })
	// Failing from now on, but far from the retries: healthy still.
	mustStrata(t, root, "exec", "hpause", "rm", "/tmp/ok")
	waitFor(t, func() bool { _, n := health(); return n > 0 })
	mustStrata(t, root, "pause", "hpause")
	if s, _ := health(); s != "unhealthy" {
		t.Errorf("health of the paused container: %q, want unhealthy, as docker's", s)
	}
	if out := mustStrata(t, root, "ps", "--filter", "health=unhealthy", "--format", "{{.Names}} {{.Status}}").Stdout; !strings.HasPrefix(out, "hpause Up ") || !strings.HasSuffix(out, " (Paused)\n") {
		t.Errorf("ps --filter health=unhealthy of the paused container: %q, want it listed Up … (Paused)", out)
	}
	_, streak := health()
	mustStrata(t, root, "unpause", "hpause")
	waitFor(t, func() bool { _, n := health(); return n > streak })
	if s, _ := health(); s != "unhealthy" {
		t.Errorf("health after the unpause and a failed check: %q, want unhealthy, as docker's", s)
	}
	mustStrata(t, root, "exec", "hpause", "touch", "/tmp/ok")
	waitFor(t, func() bool { s, _ := health(); return s == "healthy" })
}
