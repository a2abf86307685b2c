package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOutputDrainedAtExit: what a command wrote before it ended reaches its reader and its log
// however far behind they are. The copy of its output pipe was os/exec's, bounded by
// WaitDelay: a second after the command ended, what the pipe still held was dropped without
// a word. An exec whose reader was slower than the command lost its last thousands of lines;
// a container whose log was rotating (many rotated files) lost its last line from the log
// and from run's output. What a process the command left behind writes later is still
// bounded: exec and run end within seconds of the command.
func TestOutputDrainedAtExit(t *testing.T) {
	root, _ := loadedRoot(t)
	mustStrata(t, root, "run", "-d", "--name", "od", "alpine", "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "od", "od-log") })

	t.Run("exec with a slow reader", func(t *testing.T) {
		// Three at once: each reads late, and none waits for the others.
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for i := range 3 {
			cmd := exec.Command(strataBin, "--root", root, "exec", "od", "seq", "1", "16000")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				// The command writes all it has into the pipes (less than they hold) and
				// ends; strata's copy waits on this reader, which starts reading only now.
				time.Sleep(2500 * time.Millisecond)
				lines, last := 0, ""
				for sc := bufio.NewScanner(out); sc.Scan(); lines++ {
					last = sc.Text()
				}
				if err := cmd.Wait(); err != nil || lines != 16000 || last != "16000" {
					errs <- fmt.Errorf("exec %d: exec seq 1 16000 read late: %d lines, the last %q (%v, %q); want 16000", i, lines, last, err, stderr.String())
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("run whose log rotates", func(t *testing.T) {
		// Each line fills a log file and the rotated ones are many: the monitor copying the
		// output is seconds behind when the container ends.
		r := strata(t, root, "run", "--name", "od-log", "--log-opt", "max-size=1", "--log-opt", "max-file=100000",
			"alpine", "sh", "-c", "seq 1 400; sleep 0.5; echo last")
		if r.Code != 0 || !strings.HasSuffix(r.Stdout, "400\nlast\n") {
			t.Errorf("run: exit %d, stdout ends %q, stderr %q; want it to end with the last line", r.Code, tail(r.Stdout), r.Stderr)
		}
		if logs := mustStrata(t, root, "logs", "od-log").Stdout; strings.Count(logs, "\n") != 401 || !strings.HasSuffix(logs, "400\nlast\n") {
			t.Errorf("logs: %d lines, ending %q; want 401, the last one last", strings.Count(logs, "\n"), tail(logs))
		}
	})

	t.Run("a process left behind", func(t *testing.T) {
		for _, args := range [][]string{
			{"exec", "od", "sh", "-c", "(while :; do echo x; sleep 0.1; done) & echo hi"},
			{"run", "--rm", "--pid", "host", "alpine", "sh", "-c", "(while :; do echo x; sleep 0.1; done) & echo hi"},
		} {
			start := time.Now()
			r := strata(t, root, args...)
			if d := time.Since(start); r.Code != 0 || !strings.Contains(r.Stdout, "hi\n") || d > 10*time.Second {
				t.Errorf("%s: exit %d in %v, stdout %q; want 0 and hi, within seconds", args[0], r.Code, d, tail(r.Stdout))
			}
		}
		strata(t, root, "exec", "od", "pkill", "-f", "echo x")
	})
}

// tail is the end of s, for a message.
func tail(s string) string {
	if len(s) > 40 {
		return "…" + s[len(s)-40:]
	}
	return s
}
