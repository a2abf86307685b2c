package runner

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
)

// TestExecDetachReaped: the commands of exec -d are reaped when they exit, whatever the
// container's PID 1 does: their helper exited at once, the kernel gave them to the PID 1
// (sleep), which reaps nothing, and each left a zombie, until --pids-limit refused every fork
// (here the fourth exec -d and every exec after it).
func TestExecDetachReaped(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, func(s *Spec) { s.Resources.PidsLimit = 5 }, "sleep", "1000")
	for i := range 6 {
		code, _, errOut, err := execOut(t, c, ExecOptions{Args: []string{"true"}, Detach: true})
		if code != 0 || err != nil {
			t.Fatalf("exec -d true #%d = %d, %v (stderr %q), want 0", i+1, code, err, errOut)
		}
		time.Sleep(50 * time.Millisecond) // it exits, and is reaped
	}
	zombies := "for p in /proc/[0-9]*; do grep -q '^State:.*Z' $p/status 2>/dev/null && echo zombie ${p#/proc/}; done; true"
	var out string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		code, o, errOut, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c", zombies}})
		if code != 0 || err != nil {
			t.Fatalf("exec after six exec -d = %d, %v (stderr %q), want 0", code, err, errOut)
		}
		if out = o; out == "" {
			break
		}
	}
	if out != "" {
		t.Errorf("zombies after six exec -d true:\n%s", out)
	}
	// A detached command's parent is outside the container, as an exec'd one's is.
	if code, _, _, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c", "echo $PPID > /tmp/ppid; sleep 1"}, Detach: true}); code != 0 || err != nil {
		t.Fatalf("exec -d = %d, %v", code, err)
	}
	code, out, _, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c", "while [ ! -s /tmp/ppid ]; do sleep 0.05; done; cat /tmp/ppid"}})
	if code != 0 || err != nil || strings.TrimSpace(out) != fmt.Sprint(0) {
		t.Errorf("the parent of exec -d's command = %d, %v, %q, want 0 (outside the container)", code, err, out)
	}
}
