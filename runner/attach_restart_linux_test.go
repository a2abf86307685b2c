package runner

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStartInteractiveRestartFirstRun: StartInteractive (run -it, and a foreground run
// --restart) of a container with a restart policy returns its first run's output and exit
// status, however late its attach comes after the start: the monitor's end waits for the
// attach of the strata that started it. One that came after the first run had ended met a
// later run (the policy's first backoff is 100 ms): its output and status, or the fallback's
// Wait that waited for it.
func TestStartInteractiveRestartFirstRun(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Each run counts itself in the writable layer, which the restarts keep.
	c := testContainer(t, s, "", "sh", "-c", `n=$(cat /n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /n; echo run$n; exit $((n+2))`)
	c.Config.RestartPolicy = RestartPolicy{Name: RestartOnFailure, MaximumRetryCount: 2}
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	attachStartedHook = func() { time.Sleep(400 * time.Millisecond) }
	t.Cleanup(func() { attachStartedHook = nil })
	var out, errOut bytes.Buffer
	code, err := StartInteractive(context.Background(), c, AttachOptions{Stdout: &out, Stderr: &errOut})
	if err != nil || code != 3 || out.String() != "run1\n" {
		t.Errorf("StartInteractive attached late = %d, %v, output %q (stderr %q); want the first run's: 3, run1", code, err, out.String(), errOut.String())
	}
	// Its monitor restarts it twice, as on-failure:2 says, and leaves it exited.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err := c.Reload(); err != nil {
			t.Fatal(err)
		}
		if c.State.Status == StatusExited && !c.State.Restarting && c.State.RestartCount == 2 {
			if c.State.ExitCode != 5 {
				t.Errorf("the last run's exit code = %d, want 5", c.State.ExitCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %+v, want exited after 2 restarts", c.State)
		}
	}
}

// seqText is what `seq 1 n` prints.
func seqText(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('\n')
	}
	return b.String()
}

// TestStartAttachLateLongOutput: StartInteractive and StartAttached (run -it, a foreground run
// --restart, start -ai, start -a) show all the container's output from its first byte however
// late their attach comes and however much came before it (seq prints 1.3 MB at once): the
// monitor keeps it for the attach its starter announced. The log still has every line, each
// stamped with the time it was written, not that of the attach. Only the monitor's last
// 64 KiB were replayed, and the output began mid-way.
func TestStartAttachLateLongOutput(t *testing.T) {
	for _, tt := range []struct {
		name  string
		start func(*Container, io.Writer, io.Writer) (int, error)
	}{
		{"StartInteractive", func(c *Container, stdout, stderr io.Writer) (int, error) {
			return StartInteractive(context.Background(), c, AttachOptions{Stdout: stdout, Stderr: stderr})
		}},
		{"StartAttached", func(c *Container, stdout, stderr io.Writer) (int, error) {
			return StartAttached(context.Background(), c, stdout, stderr)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			c := testContainer(t, s, "", "sh", "-c", "seq 1 200000; seq 1 1000 >&2; exit 3")
			late := 400 * time.Millisecond
			var attachedAt time.Time
			attachStartedHook = func() {
				// Late after the first line: on a busy machine sh had not run seq within
				// 400 ms of the start, and the log rightly had nothing before the attach.
				waitLogged(t, c, "1\n")
				time.Sleep(late)
				attachedAt = time.Now()
			}
			t.Cleanup(func() { attachStartedHook = nil })
			began := time.Now()
			var out, errOut bytes.Buffer
			code, err := tt.start(c, &out, &errOut)
			if err != nil || code != 3 {
				t.Fatalf("%s = %d, %v; want 3", tt.name, code, err)
			}
			if want := seqText(200000); out.String() != want {
				t.Errorf("%s showed %d bytes of stdout starting %.20q, want %d starting %.20q", tt.name, out.Len(), out.String(), len(want), want)
			}
			if want := seqText(1000); errOut.String() != want {
				t.Errorf("%s showed %d bytes of stderr starting %.20q, want %d starting %.20q", tt.name, errOut.Len(), errOut.String(), len(want), want)
			}
			var logOut, logErr bytes.Buffer
			if err := Logs(context.Background(), c, LogOptions{}, &logOut, &logErr); err != nil {
				t.Fatal(err)
			}
			if logOut.String() != seqText(200000) || logErr.String() != seqText(1000) {
				t.Errorf("the log has %d bytes of stdout and %d of stderr, want all of both", logOut.Len(), logErr.Len())
			}
			// The first line was logged as it came, before the attach.
			var first bytes.Buffer
			if err := Logs(context.Background(), c, LogOptions{Until: attachedAt}, &first, io.Discard); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(first.String(), "1\n") {
				t.Errorf("the log has nothing written before the attach came, %v after the start: its times are not the output's", attachedAt.Sub(began))
			}
		})
	}
}
