package integration

import (
	"testing"
)

// TestRunInteractiveAttachStreams: run -it with -a stdout is left with the detach keys as
// run -it is, as docker's CLI attaches stdin with -i whatever -a names and reads the keys on
// it with -t: the run exits 0 in silence and the container runs on. It ran in the
// foreground, where the keys reached the shell and nothing could leave it.
func TestRunInteractiveAttachStreams(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "ras-sh") })

	s := startOnPty(t, root, 24, 80, "run", "-it", "-a", "stdout", "--name", "ras-sh", "alpine", "sh")
	s.ask("echo shown", "shown")
	s.typeKeys("\x10\x11")
	if code := s.wait(); code != 0 || s.stderr.Len() != 0 {
		t.Errorf("run -it -a stdout after Ctrl-P Ctrl-Q = exit %d, stderr %q; want 0 and nothing", code, s.stderr.String())
	}
	s.cooked("run -it -a stdout after a detach")
	running(t, root, "ras-sh")
}
