package integration

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDetachedLogFull: a detached container whose log can take no more (a full disk, here a
// file size limit its monitor inherits) goes on running, as docker's does when its log
// driver fails: the monitor drops what it cannot log. It returned the log's error to the
// copy of the container's output, which ended it: the container's next write failed (EPIPE),
// or with -t its terminal was hung up.
func TestDetachedLogFull(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	names := []string{"logfull", "logfull-t"}
	t.Cleanup(func() { strata(t, root, append([]string{"rm", "-f"}, names...)...) })
	// Once without the limit: a start that has to copy strata's binary would fail under it.
	mustStrata(t, root, "run", "--rm", "alpine", "true")
	// A failed write is seen in the exit status: as the container's PID 1, sh ignores the
	// SIGPIPE or SIGHUP that would otherwise kill it.
	script := `i=0; while [ $i -lt 200 ]; do head -c 2000 /dev/zero | tr "\0" x; echo || exit 9; i=$((i+1)); done; echo done || exit 9; exit 7`
	for i, tty := range [][]string{nil, {"-t"}} {
		args := append([]string{"--root", root, "run", "-d", "--name", names[i]}, tty...)
		args = append(args, "alpine", "sh", "-c", script)
		// 50 KiB of log at most (sh's ulimit -f counts 512-byte blocks): the container
		// writes some 400.
		cmd := exec.Command("sh", append([]string{"-c", `ulimit -f 100 && exec "$@"`, "sh", strataBin}, args...)...)
		cmd.Env = append(os.Environ(), "STRATA_REGISTRY_MIRROR=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("run -d %v under a file size limit: %v\n%s", tty, err, out)
		}
		if r := mustStrata(t, root, "wait", names[i]); strings.TrimSpace(r.Stdout) != "7" {
			t.Errorf("run -d %v: the container with a full log exited %q, want 7 (it ran to its end)", tty, strings.TrimSpace(r.Stdout))
		}
		// What was logged still reads.
		if r := mustStrata(t, root, "logs", names[i]); !strings.HasPrefix(r.Stdout, "xxxx") {
			t.Errorf("run -d %v: logs = %.40q..., want the lines logged before the log was full", tty, r.Stdout)
		}
	}
}
