package runner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
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
