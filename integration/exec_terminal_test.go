package integration

import (
	"bufio"
	"context"
	"os/exec"
	"testing"
	"time"
)

// TestTerminalOutputClosed: `strata exec -t c yes | head -1` and `strata run -t ... | head -1`
// end once the reader of strata's output is gone, as they do without -t (the command dies of
// SIGPIPE): strata hangs the terminal up, the command gets SIGHUP or EIO. They hung for good,
// the command blocked on a full terminal nobody read.
func TestTerminalOutputClosed(t *testing.T) {
	root := busyboxRoot(t)
	detached(t, root, "--name", "tty-out", "busybox:1.38.0-musl", "sleep", "1000")
	for _, args := range [][]string{
		{"exec", "-t", "tty-out", "yes"},
		{"run", "--rm", "-t", "busybox:1.38.0-musl", "yes"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, strataBin, append([]string{"--root", root}, args...)...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "y\r\n" {
			t.Errorf("%q printed %q, %v, want y", args, line, err)
		}
		out.Close() // as head -1 exits
		start := time.Now()
		err = cmd.Wait()
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			t.Errorf("%q went on for %v once its output was closed", args, time.Since(start))
		} else if err == nil {
			t.Errorf("%q exited 0 once its output was closed, want the command's failure", args)
		}
	}
}
