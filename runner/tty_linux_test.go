package runner

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/term"
)

func TestRunTerminal(t *testing.T) {
	// The test plays the user's terminal with a pty pair of its own: Run must put it in raw
	// mode while the container runs, give the container a terminal of the same size, and
	// restore the user's terminal after.
	userMaster, userTTY, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pty on this machine: %v", err)
	}
	t.Cleanup(func() { userMaster.Close(); userTTY.Close() })
	if err := pty.Setsize(userTTY, &pty.Winsize{Rows: 33, Cols: 77}); err != nil {
		t.Fatal(err)
	}
	before, err := term.GetState(int(userTTY.Fd()))
	if err != nil {
		t.Fatal(err)
	}

	spec := testSpec(t, "sh", "-c", "test -t 0 && test -t 1 && echo tty-ok; stty size; echo TERM=$TERM")
	spec.Terminal, spec.Stdin = true, true
	var out bytes.Buffer
	code, err := Run(context.Background(), spec, Stdio{Stdin: userTTY, Stdout: &out})
	if err != nil || code != 0 {
		t.Fatalf("Run(-t) = %d, %v", code, err)
	}
	got := strings.ReplaceAll(out.String(), "\r\n", "\n")
	if want := "tty-ok\n33 77\nTERM=xterm\n"; got != want {
		t.Errorf("Run(-t) output = %q, want %q", got, want)
	}
	after, err := term.GetState(int(userTTY.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Errorf("the user's terminal was not restored after Run")
	}
}

func TestRunTerminalInContainerDevpts(t *testing.T) {
	// The terminal comes from the container's own devpts, as with runc: its name exists in
	// the container, and /dev/console is the same device.
	spec := testSpec(t, "sh", "-c", `t=$(tty) && test -c "$t" && echo name=$t; `+
		`test "$(stat -c %t:%T /dev/console)" = "$(stat -c %t:%T "$t")" && echo console-ok`)
	spec.Terminal = true
	var out bytes.Buffer
	code, err := Run(context.Background(), spec, Stdio{Stdout: &out})
	if err != nil || code != 0 {
		t.Fatalf("Run(-t) = %d, %v; output %q", code, err, out.String())
	}
	got := strings.ReplaceAll(out.String(), "\r\n", "\n")
	if want := "name=/dev/pts/0\nconsole-ok\n"; got != want {
		t.Errorf("Run(-t) output = %q, want %q", got, want)
	}
}

// TestDetachedTerminalConsoleSize: a detached -t container starts with the size recorded in
// its config (run -it's, from the user's terminal: its monitor has none to read it from),
// before any attach sizes it; without one, the kernel's 0 0 until an attach sizes it.
func TestDetachedTerminalConsoleSize(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		size [2]uint16
		want string
	}{
		{"sized", [2]uint16{29, 93}, "29 93\nend"},
		{"unsized", [2]uint16{}, "end"}, // busybox's stty size says nothing on stdout for 0 0
	} {
		c := testContainer(t, s, tt.name, "sh", "-c", "stty size 2>/dev/null; echo end")
		c.Config.Spec.Terminal = true
		c.Config.ConsoleSize = tt.size
		if err := c.SaveConfig(); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := Start(ctx, c); err != nil {
			t.Fatalf("Start(%s) = %v", tt.name, err)
		}
		if code, err := Wait(ctx, c); err != nil || code != 0 {
			t.Fatalf("Wait(%s) = %d, %v", tt.name, code, err)
		}
		var out bytes.Buffer
		if err := Logs(ctx, c, LogOptions{}, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(strings.ReplaceAll(out.String(), "\r\n", "\n")); got != tt.want {
			t.Errorf("%s: stty size in the detached container = %q, want %q", tt.name, got, tt.want)
		}
		if h := inspectHostConfig(c); h.ConsoleSize != [2]uint{uint(tt.size[0]), uint(tt.size[1])} {
			t.Errorf("%s: inspect's ConsoleSize = %v, want %v", tt.name, h.ConsoleSize, tt.size)
		}
	}
}
