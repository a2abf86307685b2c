package integration

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestImageStopSignalUnparsable: an image whose STOPSIGNAL does not parse runs, as docker's
// daemon runs it (it checks only the user's --stop-signal, before the image's config is
// merged, and container.StopSignal falls back to SIGTERM): inspect shows the value as the
// image has it (a long one cut to 64 bytes), stop and restart send SIGTERM, rm -f removes
// it. run refused such an image with "invalid STOPSIGNAL in the image". A bad --stop-signal
// stays an error, 125.
func TestImageStopSignalUnparsable(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "badsig", "junksig") })
	// PID 1 leaves with 7 on SIGTERM; "ready" says the trap is set.
	trap := `trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done`
	loadConfigImage(t, root, "badsig:1", nil, nil, func(c *v1.Config) { c.StopSignal = "SIGFOO" })
	junk := strings.Repeat("x", 40<<10)
	loadConfigImage(t, root, "junksig:1", nil, nil, func(c *v1.Config) { c.StopSignal = junk })

	// ready waits for the n-th run's ready: a start again finds the first run's line there.
	ready := func(name string, n int) {
		t.Helper()
		waitFor30(t, func() bool { return strings.Count(strata(t, root, "logs", name).Stdout, "ready") >= n })
	}
	mustStrata(t, root, "run", "-d", "--name", "badsig", "badsig:1", "sh", "-c", trap)
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.Config.StopSignal}}", "badsig").Stdout); got != "SIGFOO" {
		t.Errorf("inspect Config.StopSignal = %q, want the image's SIGFOO", got)
	}
	ready("badsig", 1)
	mustStrata(t, root, "stop", "-t", "60", "badsig")
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.ExitCode}}", "badsig").Stdout); got != "7" {
		t.Errorf("exit code after stop = %s, want 7 from the TERM trap", got)
	}
	mustStrata(t, root, "start", "badsig")
	ready("badsig", 2)
	mustStrata(t, root, "restart", "-t", "60", "badsig")
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Running}}", "badsig").Stdout); got != "true" {
		t.Errorf("after restart: running %s, want true", got)
	}
	mustStrata(t, root, "rm", "-f", "badsig")

	mustStrata(t, root, "create", "--name", "junksig", "junksig:1", "sh", "-c", trap)
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.Config.StopSignal}}", "junksig").Stdout); got != junk[:64] {
		t.Errorf("inspect Config.StopSignal = %.100q, want the image's first 64 bytes", got)
	}
	mustStrata(t, root, "start", "junksig")
	ready("junksig", 1)
	mustStrata(t, root, "stop", "-t", "60", "junksig")
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.ExitCode}}", "junksig").Stdout); got != "7" {
		t.Errorf("exit code after stop = %s, want 7 from the TERM trap", got)
	}

	for _, cmd := range []string{"run", "create"} {
		checkRefused(t, cmd+" --stop-signal SIGFOO", strata(t, root, cmd, "--rm", "--stop-signal", "SIGFOO", "badsig:1", "true"), 125, `invalid --stop-signal: invalid signal "SIGFOO"`)
	}
}
