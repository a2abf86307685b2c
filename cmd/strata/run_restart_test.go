package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
)

// runCaptured runs strata with args as strata does, its container's stdout and stderr (which
// a foreground run writes to the process's own) read back from files.
func runCaptured(t *testing.T, root string, args ...string) (stdout, stderr string, code int, err error) {
	t.Helper()
	dir := t.TempDir()
	outF, err := os.Create(dir + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer outF.Close()
	errF, err := os.Create(dir + "/err")
	if err != nil {
		t.Fatal(err)
	}
	defer errF.Close()
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = outF, errF
	_, err = strata(t, root, nil, args...)
	os.Stdout, os.Stderr = oldOut, oldErr
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.code
		if ee.err == nil {
			err = nil // a container's status, said by nothing but the code
		}
	default:
		code = -1
	}
	o, _ := os.ReadFile(dir + "/out")
	e, _ := os.ReadFile(dir + "/err")
	return string(o), string(e), code, err
}

// inspectState reads a container's State and RestartCount as inspect shows them.
func inspectState(t *testing.T, root, name string) (status string, restartCount int, exitCode int) {
	t.Helper()
	out, err := strata(t, root, nil, "inspect", name)
	if err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	var got []struct {
		RestartCount int
		State        struct {
			Status   string
			ExitCode int
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("inspect %s = %q: %v", name, out, err)
	}
	return got[0].State.Status, got[0].RestartCount, got[0].State.ExitCode
}

// TestRunRestartForeground: a foreground run --restart (no -d) is docker's: the run prints the
// container's output and exits with its first exit status, while its monitor restarts it as
// the policy says, on-failure:2 twice and then no more. strata refused --restart without -d.
func TestRunRestartForeground(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	root := loadedTestImages(t)
	const name = "restart-fg"
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", name) })

	out, errOut, code, err := runCaptured(t, root, "run", "--name", name, "--restart", "on-failure:2", "alpine", "sh", "-c", "echo x; exit 3")
	if err != nil || code != 3 || out != "x\n" {
		t.Fatalf("run --restart on-failure:2 of `echo x; exit 3` = exit %d, %v, stdout %q (stderr %q); want exit 3 and x", code, err, out, errOut)
	}
	// Its monitor restarts it twice, and leaves it exited.
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, count, exit := inspectState(t, root, name)
		if status == "exited" && count == 2 {
			if exit != 3 {
				t.Errorf("after its restarts: exit code %d, want 3", exit)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: status %s, RestartCount %d; want exited after 2 restarts", status, count)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // docker's backoff after 2 restarts is 400 ms
	if status, count, _ := inspectState(t, root, name); status != "exited" || count != 2 {
		t.Errorf("on-failure:2 went on: status %s, RestartCount %d", status, count)
	}
}

// TestRunRestartAlwaysForeground: run --restart always in the foreground prints the output
// and exits with the status of its first run, and the container goes on restarting: ps shows
// it restarting or up.
func TestRunRestartAlwaysForeground(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	root := loadedTestImages(t)
	const name = "restart-always-fg"
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", name) })

	out, errOut, code, err := runCaptured(t, root, "run", "--name", name, "--restart", "always", "alpine", "sh", "-c", "echo y; exit 2")
	if err != nil || code != 2 || out != "y\n" {
		t.Fatalf("run --restart always of `echo y; exit 2` = exit %d, %v, stdout %q (stderr %q); want exit 2 and y", code, err, out, errOut)
	}
	ps, err := strata(t, root, nil, "ps", "--filter", "name="+name, "--format", "{{.Status}}")
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	if s := strings.TrimSpace(ps); !strings.HasPrefix(s, "Restarting (2)") && !strings.HasPrefix(s, "Up") {
		t.Errorf("ps status after the run = %q, want Restarting (2) … or Up …", s)
	}
	if _, count, _ := inspectState(t, root, name); count < 1 {
		t.Errorf("RestartCount after the run = %d, want at least 1", count)
	}
}

// TestRunRestartSigProxy: a signal a foreground run --restart passes on to its container
// (--sig-proxy) is docker's kill of it, which cancels the restart (docker's ExitOnNext, for
// any signal when the container names no stop signal): the run exits with the status the
// signal ended the container with, and the container stays exited. The proxy signalled the
// container's PID 1 alone, and its monitor restarted it as if it had crashed.
func TestRunRestartSigProxy(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	root := loadedTestImages(t)
	const name = "restart-sigproxy"
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", name) })

	type result struct {
		out  string
		code int
		err  error
	}
	done := make(chan result, 1)
	dir := t.TempDir()
	// Its own stdout, read while it runs.
	outF, err := os.Create(dir + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer outF.Close()
	oldOut := os.Stdout
	os.Stdout = outF
	defer func() { os.Stdout = oldOut }()
	go func() {
		_, err := strata(t, root, nil, "run", "--name", name, "--restart", "always", "alpine", "sh", "-c", `trap "echo got TERM; exit 7" TERM; echo up; sleep 100 & wait`)
		r := result{err: err}
		var ee *exitError
		if errors.As(err, &ee) {
			r.code, r.err = ee.code, nil
			if ee.err != nil {
				r.err = ee.err
			}
		}
		done <- r
	}()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile(dir + "/out"); strings.Contains(string(b), "up\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the container said nothing in 20 s")
		}
	}
	// To this process, the strata run: its proxy has it.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not end in 20 s after its SIGTERM")
	}
	os.Stdout = oldOut
	out, _ := os.ReadFile(dir + "/out")
	if r.err != nil || r.code != 7 || string(out) != "up\ngot TERM\n" {
		t.Errorf("run --restart always, SIGTERM = exit %d, %v, output %q; want 7, up and got TERM", r.code, r.err, out)
	}
	time.Sleep(600 * time.Millisecond) // past the restart's backoff (100 ms)
	if status, count, _ := inspectState(t, root, name); status != "exited" || count != 0 {
		t.Errorf("after the proxied SIGTERM: status %s, RestartCount %d; want exited, not restarted", status, count)
	}
}

// seqOutput is what `seq 1 n` prints.
func seqOutput(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('\n')
	}
	return b.String()
}

// firstDiff describes where got first differs from want, for a failure's message.
func firstDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("%d bytes, want %d; first difference at byte %d: got %q, want %q", len(got), len(want), i,
		got[i:min(len(got), i+20)], want[i:min(len(want), i+20)])
}

// TestRunRestartForegroundLongOutput: a foreground run --restart, which its monitor starts and
// strata attaches to, prints all its container's output from the first byte, however much
// comes before the attach joins: the monitor keeps it for that attach (seq prints 1.3 MB at
// once). Only the monitor's last 64 KiB were replayed to it, and the run began mid-way: with
// --log-driver none, whose monitor reads the output fastest, nearly always.
func TestRunRestartForegroundLongOutput(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	root := loadedTestImages(t)
	const name = "restart-fg-long"
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", name) })

	out, errOut, code, err := runCaptured(t, root, "run", "--name", name, "--log-driver", "none", "--restart", "on-failure:1", "alpine", "sh", "-c", "seq 1 200000; exit 3")
	if err != nil || code != 3 {
		t.Fatalf("run --restart on-failure:1 of `seq 1 200000; exit 3` = exit %d, %v (stderr %q); want exit 3", code, err, errOut)
	}
	if want := seqOutput(200000); out != want {
		t.Errorf("run --restart printed %s", firstDiff(out, want))
	}
}

// TestStartAttachLongOutput: start -a of a created container gets all it prints, from the first
// byte, however much comes before its attach joins: it began with the monitor's last 64 KiB
// of it (with --log-driver none, most runs).
func TestStartAttachLongOutput(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	root := loadedTestImages(t)
	const name = "start-a-long"
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", name) })

	if _, err := strata(t, root, nil, "create", "--name", name, "--log-driver", "none", "alpine", "sh", "-c", "seq 1 200000; seq 1 1000 >&2"); err != nil {
		t.Fatalf("create: %v", err)
	}
	// start -a writes the container's output to the command's own stdout and stderr.
	cmd := newRootCmd(&globals{})
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetIn(bytes.NewReader(nil))
	cmd.SetArgs([]string{"--root", root, "start", "-a", name})
	var ee *exitError
	if err := cmd.ExecuteContext(context.Background()); err != nil && !(errors.As(err, &ee) && ee.err == nil && ee.code == 0) {
		t.Fatalf("start -a: %v (stderr %.200q)", err, stderr.String())
	}
	out, errOut := stdout.String(), stderr.String()
	if want := seqOutput(200000); out != want {
		t.Errorf("start -a printed on stdout %s", firstDiff(out, want))
	}
	if want := seqOutput(1000); errOut != want {
		t.Errorf("start -a printed on stderr %s", firstDiff(errOut, want))
	}
}

// TestRunRestartForegroundNotFound: a foreground run --restart whose command does not exist
// exits 127 with the init's error at once, as a plain run does: its monitor waited the 5 s it
// gives a starter's attach before answering, though no attach follows a failed start.
func TestRunRestartForegroundNotFound(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	root := loadedTestImages(t)
	const name = "restart-notfound"
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", name) })
	began := time.Now()
	_, _, code, err := runCaptured(t, root, "run", "--name", name, "--restart", "on-failure:1", "alpine", "/no/such/command")
	took := time.Since(began)
	if code != 127 || err == nil || !strings.Contains(err.Error(), "/no/such/command") {
		t.Fatalf("run --restart of a missing command: exit %d, error %v; want 127 and the init's error", code, err)
	}
	// A bound on a hang, not a speed: the wait it had was 5 s.
	if took > 4*time.Second {
		t.Fatalf("run --restart of a missing command took %v: its monitor waited for an attach no failed start makes", took)
	}
}
