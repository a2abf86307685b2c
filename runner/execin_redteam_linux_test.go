package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/runner/cgroups"
	"golang.org/x/sys/unix"
)

// TestExecDetachReplacedNull: exec -d runs, as docker's does, in a container that replaced
// its /dev/null (a FIFO, a file, a directory, a link, one its user may not open): its output
// goes to a null device of the helper's own, which is neither the host's /dev/null nor a
// pipe nobody drains (200 KB fill any pipe). The exec failed with 125 "the container's
// /dev/null is not the null device".
func TestExecDetachReplacedNull(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	var host unix.Stat_t
	if err := unix.Stat("/dev/null", &host); err != nil {
		t.Fatal(err)
	}
	hostID := fmt.Sprintf("%d:%d", host.Dev, host.Ino)
	c := startedContainer(t, nil, "sleep", "1000")
	for i, tt := range []struct{ setup, user string }{
		{"rm /dev/null && mkfifo /dev/null", ""},
		{"rm /dev/null && echo x > /dev/null", ""},
		{"rm /dev/null && mkdir /dev/null", ""},
		{"rm -r /dev/null && ln -s /proc/self/fd/0 /dev/null", ""},
		{"chmod 600 /dev/null", "nobody"},
	} {
		if tt.user != "" {
			// A fresh container: the others left no null device to chmod.
			c = startedContainer(t, nil, "sleep", "1000")
		}
		if code, _, errOut, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c", tt.setup}}); code != 0 {
			t.Fatalf("%s = %d, %v: %s", tt.setup, code, err, errOut)
		}
		mark := fmt.Sprintf("/tmp/mark%d", i)
		code, _, _, err := execOut(t, c, ExecOptions{User: tt.user, Detach: true, Args: []string{"sh", "-c",
			"head -c 200000 /dev/zero; head -c 200000 /dev/zero >&2; a=$(stat -L -c %t:%T:%d:%i /proc/$$/fd/1 /proc/$$/fd/2); echo $a > " + mark + ".tmp; mv " + mark + ".tmp " + mark}})
		if code != 0 || err != nil {
			t.Errorf("after %q: exec -d = %d, %v, want it to run", tt.setup, code, err)
			continue
		}
		code, out, _, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c",
			"i=0; while [ ! -e " + mark + " ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; cat " + mark}})
		lines := strings.Fields(out)
		if code != 0 || err != nil || len(lines) != 2 || lines[0] != lines[1] || !strings.HasPrefix(lines[0], "1:3:") || strings.HasSuffix(lines[0], ":"+hostID) {
			t.Errorf("after %q: the detached command's stdout and stderr = %q (%d, %v), want the same null device 1:3, not the host's /dev/null (%s), and its output not blocking it", tt.setup, out, code, err, hostID)
		}
	}
}

// TestExecPidsLimit: an exec'd command has the container's --pids-limit less its PID 1, as
// docker's has: with 3, PID 1, a shell and one child. The helper that started the command
// kept the container's pids cgroup for as long as the command ran, taking one of the three,
// so the shell could not fork ("can't fork: Resource temporarily unavailable"). The helper
// leaves once the command runs, so the shell waits, without forking, on a FIFO the test
// writes once the cgroup holds PID 1 and the shell alone (or after 5 s).
func TestExecPidsLimit(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, func(s *Spec) { s.Resources.PidsLimit = 3 }, "sleep", "1000")
	cg, err := cgroups.Load(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	var current string
	for _, d := range cg.ThreadDirs() {
		if _, err := os.Stat(filepath.Join(d, "pids.current")); err == nil {
			current = filepath.Join(d, "pids.current")
		}
	}
	if current == "" {
		t.Skip("no v1 pids cgroup: the helper is not in one")
	}
	fifo := fmt.Sprintf("/proc/%d/root/go", c.State.Pid)
	for _, user := range []string{"", "nobody"} {
		if err := unix.Mkfifo(fifo, 0o666); err != nil {
			t.Fatal(err)
		}
		done := make(chan string, 1)
		go func() {
			code, out, errOut, err := execOut(t, c, ExecOptions{User: user, Args: []string{"sh", "-c", "read x < /go; echo child & wait"}})
			done <- fmt.Sprintf("%d, %v, %q (stderr %q)", code, err, out, errOut)
		}()
		// Two tasks are PID 1 and the shell only once the shell runs: before its fork they
		// are PID 1 and the helper's thread, which a count alone took for the same, and the
		// shell then forked while the helper was still there (on a loaded host).
		tasks := filepath.Join(filepath.Dir(current), "tasks")
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if b, err := os.ReadFile(current); err == nil && strings.TrimSpace(string(b)) == "2" && taskNames(tasks) == "sh sleep" {
				break
			}
		}
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.WriteString("go\n")
		w.Close()
		got := <-done
		if err := os.Remove(fifo); err != nil {
			t.Fatal(err)
		}
		if got != `0, <nil>, "child" (stderr "")` {
			t.Errorf("-u %q: exec of a shell that forks once, under --pids-limit 3 = %s, want 0 and child", user, got)
		}
	}
	// The limit still holds for the command: a second child is one too many.
	code, _, errOut, _ := execOut(t, c, ExecOptions{Args: []string{"sh", "-c", "sleep 1 & sleep 1 & wait"}})
	if code == 0 || !strings.Contains(errOut, "fork") {
		t.Errorf("exec of a shell that forks twice under --pids-limit 3 = %d (stderr %q), want the second fork refused", code, errOut)
	}
}

// taskNames lists the names (comm) of the tasks a v1 cgroup's tasks file holds, sorted and
// space-separated.
func taskNames(tasks string) string {
	b, err := os.ReadFile(tasks)
	if err != nil {
		return ""
	}
	var names []string
	for _, tid := range strings.Fields(string(b)) {
		comm, err := os.ReadFile("/proc/" + tid + "/comm")
		if err != nil {
			return ""
		}
		names = append(names, strings.TrimSpace(string(comm)))
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}
