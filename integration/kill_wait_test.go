package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// TestKillWaitsForExit: kill with SIGKILL returns once the container's exit is recorded, as
// docker's kill waits for it: an inspect (or a start) right after it found the container
// running still, about half the time while an exec ran in it.
func TestKillWaitsForExit(t *testing.T) {
	root := busyboxRoot(t)
	detached(t, root, "--name", "killwait", "busybox:1.38.0-musl", "sleep", "1000")
	for i := range 8 {
		// An exec under way makes the monitor's work at the exit longer.
		ex := exec.Command(strataBin, "--root", root, "exec", "killwait", "sleep", "30")
		if err := ex.Start(); err != nil {
			t.Fatal(err)
		}
		mustStrata(t, root, "exec", "killwait", "true")
		mustStrata(t, root, "kill", "killwait")
		got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "killwait").Stdout)
		_ = ex.Wait()
		if got != "exited 137" {
			t.Fatalf("run %d: inspect right after kill = %q, want exited 137", i, got)
		}
		mustStrata(t, root, "start", "killwait")
	}
	// Another signal is only sent, as docker's kill -s sends it.
	mustStrata(t, root, "kill", "-s", "USR1", "killwait")
}
