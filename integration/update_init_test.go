package integration

import (
	"strings"
	"testing"
)

// TestUpdateInitPidsLimit updates a --init container's --pids-limit below what its reaper
// needs: the update is refused as run and create refuse it, and the container still starts,
// where the update was recorded and every start failed on it after.
func TestUpdateInitPidsLimit(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "up-init") })
	mustStrata(t, root, "create", "--name", "up-init", "--init", "--pids-limit", "20", "alpine", "true")
	r := strata(t, root, "update", "--pids-limit", "2", "up-init")
	if msg := strings.TrimSpace(r.Stderr); r.Code != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, "--init needs --pids-limit of at least") {
		t.Errorf("update --pids-limit 2 of a --init container: exit %d, stderr %q; want exit 1 and one line saying --init's minimum", r.Code, r.Stderr)
	}
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.HostConfig.PidsLimit}}", "up-init").Stdout); got != "20" {
		t.Errorf("PidsLimit after the refused update = %s, want 20", got)
	}
	mustStrata(t, root, "start", "-a", "up-init")
	// 0 and -1 lift the limit, as for run.
	mustStrata(t, root, "update", "--pids-limit", "-1", "up-init")
	mustStrata(t, root, "start", "-a", "up-init")
}
