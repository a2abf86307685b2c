package runner

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// stdinOf is what the container's PID 1 has as fd 0, seen from the host.
func stdinOf(t *testing.T, c *Container) string {
	t.Helper()
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", c.State.Pid))
	if err != nil {
		t.Fatalf("reading the container's stdin: %v", err)
	}
	return link
}

// run -d -i: the monitor holds the container's stdin open, so cat waits for input instead of
// reading EOF and exiting, as with docker.
func TestDetachedStdinStaysOpen(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "cat")
	c.Config.Spec.Stdin = true
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	if err := Start(context.Background(), c); err != nil {
		t.Fatalf("Start = %v", err)
	}
	if in := stdinOf(t, c); !strings.HasPrefix(in, "pipe:") {
		t.Errorf("-d -i: the container's stdin is %q, want a pipe", in)
	}
	// Long enough for cat to have read an EOF, and for the monitor to have collected
	// garbage (a finalized write end would close the pipe).
	time.Sleep(time.Second)
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if !c.State.Running() {
		t.Fatalf("-d -i cat: the container is %s after 1s, want running", c.State.Status)
	}
	if err := Stop(context.Background(), c, time.Second); err != nil {
		t.Fatalf("Stop = %v", err)
	}
}

// run -d without -i: the container reads /dev/null, and cat ends at once.
func TestDetachedStdinNull(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "sh", "-c", "readlink /proc/self/fd/0; cat")
	ctx := context.Background()
	if err := Start(ctx, c); err != nil {
		t.Fatalf("Start = %v", err)
	}
	if code, err := Wait(ctx, c); err != nil || code != 0 {
		t.Fatalf("-d cat: Wait = %d, %v, want 0 (cat read EOF from /dev/null)", code, err)
	}
	var out, errOut strings.Builder
	if err := Logs(ctx, c, LogOptions{}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != "/dev/null" {
		t.Errorf("-d: the container's stdin is %q, want /dev/null", out.String())
	}
}
