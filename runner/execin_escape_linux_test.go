package runner

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
)

// TestExecOwnSession: a command exec'd without a terminal leads a session of its own. In
// strata's, it kept the user's terminal as its controlling one, and TIOCSTI on its stdout
// typed commands into the user's host shell.
func TestExecOwnSession(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	for _, detach := range []bool{false, true} {
		script := `read -r _ _ _ _ _ sid tty _ < /proc/$$/stat; echo $$ $sid $tty`
		if detach {
			script += " > /tmp/session"
		}
		code, out, errOut, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c", script}, Detach: detach})
		if err != nil || code != 0 {
			t.Fatalf("Exec = %d, %v: %s", code, err, errOut)
		}
		if detach {
			code, out, _, err = execOut(t, c, ExecOptions{Args: []string{"sh", "-c", "while [ ! -s /tmp/session ]; do sleep 0.05; done; cat /tmp/session"}})
			if err != nil || code != 0 {
				t.Fatalf("reading the detached command's session = %d, %v", code, err)
			}
		}
		f := strings.Fields(out)
		if len(f) != 3 || f[0] != f[1] || f[2] != "0" {
			t.Errorf("detach=%v: pid, session, tty = %q, want a session leader without a controlling terminal", detach, out)
		}
	}
}

// TestExecHelperNotDumpable: the helper, whose forks enter the container's pid namespace
// with the container's uid and capabilities, cannot be inspected by a process holding no
// CAP_SYS_PTRACE, as the container's cannot: not its fds through /proc (CVE-2016-9962).
func TestExecHelperNotDumpable(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay, testutil.Command("setpriv"))
	c := startedContainer(t, nil, "sleep", "1000")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Exec(ctx, c, ExecOptions{Args: []string{"sh", "-c", "echo ready; exec sleep 60"}}, Stdio{Stdout: w, Stderr: w})
		w.Close()
		done <- err
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Exec = %v", err)
		}
	}()
	if l, err := bufio.NewReader(r).ReadString('\n'); err != nil || l != "ready\n" {
		t.Fatalf("reading the command's first line = %q, %v", l, err)
	}
	helper := 0
	for deadline := time.Now().Add(5 * time.Second); helper == 0 && time.Now().Before(deadline); {
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, d := range dirs {
			cmdline, _ := os.ReadFile(d + "/cmdline")
			pid, _ := strconv.Atoi(filepath.Base(d))
			if string(cmdline) == nsjoinMarker+"\x00" {
				if ppid, err := parentPid(pid); err == nil && ppid == os.Getpid() {
					helper = pid
				}
			}
		}
	}
	if helper == 0 {
		t.Fatal("no nsjoin helper found")
	}
	out, err := exec.Command("setpriv", "--bounding-set", "-sys_ptrace", "readlink", fmt.Sprintf("/proc/%d/fd/0", helper)).CombinedOutput()
	if err == nil {
		t.Errorf("readlink of the helper's fd without CAP_SYS_PTRACE = %q, want it refused", strings.TrimSpace(string(out)))
	}
}

// TestExecNoHostFiles: the command's stdio are pipes or the container's /dev/null, never
// strata's own fds, through which it could chmod a host file (here the one strata's output
// goes to) or the host's /dev/null, or keep the user's terminal.
func TestExecNoHostFiles(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	code, err := Exec(context.Background(), c, ExecOptions{Args: []string{"sh", "-c",
		"chmod 4777 /proc/self/fd/1; stat -L -c %F /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2"}}, Stdio{Stdout: out, Stderr: out})
	if err != nil || code != 0 {
		t.Fatalf("Exec = %d, %v", code, err)
	}
	if st, err := out.Stat(); err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSetuid != 0 {
		t.Errorf("the host file of strata's stdout is now %v (%v), want 0600", st.Mode(), err)
	}
	b, _ := os.ReadFile(out.Name())
	if got := strings.Fields(string(b)); strings.Join(got, " ") != "fifo fifo fifo" {
		t.Errorf("stdin, stdout and stderr are %q, want pipes", got)
	}

	// Detached, it gets the container's /dev/null, not the host's.
	code, _, _, err = execOut(t, c, ExecOptions{Args: []string{"sh", "-c",
		"a=$(stat -L -c %d:%i /proc/$$/fd/1 /proc/$$/fd/2 /dev/null); echo $a > /tmp/fds"}, Detach: true})
	if err != nil || code != 0 {
		t.Fatalf("Exec(detached) = %d, %v", code, err)
	}
	code, got, _, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c", "while [ ! -s /tmp/fds ]; do sleep 0.05; done; cat /tmp/fds"}})
	if err != nil || code != 0 {
		t.Fatalf("reading the detached command's fds = %d, %v", code, err)
	}
	f := strings.Fields(got)
	if len(f) != 3 || f[0] != f[2] || f[1] != f[2] {
		t.Errorf("detached stdout and stderr %q, want the container's /dev/null (last)", got)
	}
}
