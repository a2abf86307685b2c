package runner

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
)

// TestExecForgedCapLastCap: a container with CAP_SYS_ADMIN that binds a file of its own over
// /proc/sys/kernel/cap_last_cap cannot change what an exec'd command is left with: the helper
// read that file in the container's mount namespace, so a 5 there dropped only capabilities
// 0 to 5 from the command's bounding set (and resolved the seccomp profile against those
// alone, so that even the container's own CAP_SYS_ADMIN could not mount), and a huge number
// kept the helper dropping capabilities for good, with strata waiting for it.
func TestExecForgedCapLastCap(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, func(s *Spec) { s.CapAdd = []string{"SYS_ADMIN"} }, "sleep", "1000")
	wantBnd := procStatusField(t, c.State.Pid, "CapBnd")
	for _, forged := range []string{"5", "9000000000000000000"} {
		code, out, errOut, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c",
			"umount /proc/sys/kernel/cap_last_cap 2>/dev/null; echo " + forged + " > /tmp/last && mount --bind /tmp/last /proc/sys/kernel/cap_last_cap && cat /proc/sys/kernel/cap_last_cap"}})
		if code != 0 || err != nil || out != forged {
			t.Fatalf("forging cap_last_cap = %d, %v, %q, %s", code, err, out, errOut)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		start := time.Now()
		var outb, errb bytes.Buffer
		code, err = Exec(ctx, c, ExecOptions{Args: []string{"sh", "-c",
			"grep CapBnd /proc/self/status && mount -t tmpfs none /mnt && echo mounted"}}, Stdio{Stdout: &outb, Stderr: &errb})
		cancel()
		want := "CapBnd:\t" + wantBnd + "\nmounted"
		if code != 0 || err != nil || strings.TrimSpace(outb.String()) != want || time.Since(start) > 10*time.Second {
			t.Errorf("cap_last_cap %s: Exec = %d, %v after %v, printed %q (stderr %q), want %q at once",
				forged, code, err, time.Since(start).Round(time.Millisecond), strings.TrimSpace(outb.String()), strings.TrimSpace(errb.String()), want)
		}
	}
}
