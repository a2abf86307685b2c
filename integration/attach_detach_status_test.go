package integration

import (
	"strings"
	"testing"
)

// TestAttachDetachStatus: the detach keys end `strata attach` as they end docker attach,
// whose CLI returns its stream's escape error: "read escape sequence" and exit 1 (strata
// exited 0); they end start -ai as docker start, which takes that error as a normal end, in
// silence with exit 0, as run -it. The container runs on either way, its terminal restored.
func TestAttachDetachStatus(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "ads-sh", "ads-st") })

	mustStrata(t, root, "run", "-dit", "--name", "ads-sh", "alpine", "sh")
	a := startOnPty(t, root, 24, 80, "attach", "ads-sh")
	a.ask("echo here", "here")
	a.typeKeys("\x10\x11")
	if code := a.wait(); code != 1 || strings.TrimSpace(a.stderr.String()) != "read escape sequence" {
		t.Errorf("attach after Ctrl-P Ctrl-Q = exit %d, stderr %q; want 1, read escape sequence", code, a.stderr.String())
	}
	a.cooked("attach after a detach")
	running(t, root, "ads-sh")
	a = startOnPty(t, root, 24, 80, "attach", "--detach-keys", "ctrl-x,y", "ads-sh")
	a.ask("echo one", "one")
	a.typeKeys("\x10\x11") // docker's keys are no detach now: they reach the shell
	a.ask("echo two", "two")
	a.typeKeys("\x18y")
	if code := a.wait(); code != 1 || strings.TrimSpace(a.stderr.String()) != "read escape sequence" {
		t.Errorf("attach --detach-keys ctrl-x,y after them = exit %d, stderr %q; want 1, read escape sequence", code, a.stderr.String())
	}
	running(t, root, "ads-sh")

	mustStrata(t, root, "create", "-it", "--name", "ads-st", "alpine", "sh")
	s := startOnPty(t, root, 24, 80, "start", "-ai", "ads-st")
	s.ask("echo there", "there")
	s.typeKeys("\x10\x11")
	if code := s.wait(); code != 0 || s.stderr.Len() != 0 {
		t.Errorf("start -ai after Ctrl-P Ctrl-Q = exit %d, stderr %q; want 0 and nothing", code, s.stderr.String())
	}
	s.cooked("start -ai after a detach")
	running(t, root, "ads-st")
}
