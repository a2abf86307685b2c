package integration

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestRunInteractiveOutputClosed: run -it whose output's reader has gone (`strata run -it
// alpine sh -c yes | head -1`) hangs its container's terminal up, as a foreground run -t
// and exec -it do: the container ends as a command on a pipe ends once nobody reads, strata
// exits with its status and says nothing, and a --rm one is removed. strata said "run:
// write /dev/stdout: broken pipe", exit 125, and left the container running (--rm too) with
// nothing attached to it.
func TestRunInteractiveOutputClosed(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "oc-kept", "oc-rm") })
	for _, name := range []string{"oc-kept", "oc-rm"} {
		args := []string{"run", "-it", "--name", name, "alpine", "sh", "-c", "yes"}
		if name == "oc-rm" {
			args = append(args[:2], append([]string{"--rm"}, args[2:]...)...)
		}
		code, stderr := runOutputClosed(t, root, args...)
		if code == 125 || code == 0 || stderr != "" {
			t.Errorf("%v once its output's reader had gone = exit %d, stderr %q; want the container's status, and nothing", args, code, stderr)
		}
		if name == "oc-rm" {
			// Its monitor removes it once it has ended.
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				out := strata(t, root, "ps", "-a", "-q", "--filter", "name=oc-rm").Stdout
				if out == "" {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("the --rm container is still there: %q (%s)", out, strata(t, root, "ps", "-a").Stdout)
					break
				}
			}
			continue
		}
		st := strings.Fields(mustStrata(t, root, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name).Stdout)
		if len(st) != 2 || st[0] != "exited" || st[1] != strconv.Itoa(code) {
			t.Errorf("%s after its run's output closed is %q, want exited with the run's status %d", name, st, code)
		}
	}

	// A run with a restart policy, without -t, is attached to as run -it is, and has no
	// terminal to hang up: it ends as docker's CLI does, with the write's error and status 1,
	// and the container runs on, as docker's. It was strata's own error, 125.
	args := []string{"run", "--restart", "on-failure:1", "--name", "oc-restart", "alpine", "sh", "-c", "yes"}
	t.Cleanup(func() { strata(t, root, "rm", "-f", "oc-restart") })
	code, stderr := runOutputClosed(t, root, args...)
	if code != 1 || stderr != "strata: run: write /dev/stdout: broken pipe\n" {
		t.Errorf("%v once its output's reader had gone = exit %d, stderr %q; want 1, the write's error", args, code, stderr)
	}
	running(t, root, "oc-restart")
}

// TestRunInteractiveOutputClosedOutlived: a run -it container that outlives its terminal's
// hang-up (it ignores SIGHUP and writes no more) is waited for, as a foreground run -t's,
// and with --sig-proxy=false a SIGTERM of strata ends the wait as it ends any run -it's
// attach: exit 143, the container running on. The wait for the container's end did not
// heed it.
func TestRunInteractiveOutputClosedOutlived(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "oc-hup") })
	user, tty, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pty on this machine: %v", err)
	}
	defer user.Close()
	defer tty.Close()
	go func() { _, _ = io.Copy(io.Discard, user) }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	run := exec.CommandContext(ctx, strataBin, "--root", root, "run", "-it", "--sig-proxy=false", "--name", "oc-hup",
		"alpine", "sh", "-c", `trap "" HUP; yes | head -c 200000; exec sleep 1000`)
	run.Stdin, run.Stdout, run.Stderr = tty, outW, &stderr
	run.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	line, err := bufio.NewReader(out).ReadString('\n')
	out.Close()
	if err != nil || strings.TrimSpace(line) != "y" {
		t.Fatalf("run -it printed %q, %v; want y (stderr %q)", line, err, stderr.String())
	}
	// Once the container sleeps, its output long gone, strata is in the wait.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if strings.Contains(strata(t, root, "top", "oc-hup").Stdout, "sleep 1000") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("oc-hup never slept (stderr %q)", stderr.String())
		}
	}
	_ = run.Process.Signal(syscall.SIGTERM)
	_ = run.Wait()
	if ctx.Err() != nil {
		t.Fatalf("run -it --sig-proxy=false did not end on SIGTERM once its output had gone")
	}
	if code := run.ProcessState.ExitCode(); code != 143 || stderr.Len() != 0 {
		t.Errorf("run -it --sig-proxy=false after SIGTERM = exit %d, stderr %q; want 143 and nothing", code, stderr.String())
	}
	running(t, root, "oc-hup")
}

// runOutputClosed runs strata with args, its stdin a terminal and its stdout a pipe whose
// reader takes a line and goes, and returns its status and stderr.
func runOutputClosed(t *testing.T, root string, args ...string) (int, string) {
	t.Helper()
	user, tty, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pty on this machine: %v", err)
	}
	defer user.Close()
	defer tty.Close()
	go func() { _, _ = io.Copy(io.Discard, user) }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	run := exec.CommandContext(ctx, strataBin, append([]string{"--root", root}, args...)...)
	run.Stdin, run.Stdout, run.Stderr = tty, outW, &stderr
	run.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	line, err := bufio.NewReader(out).ReadString('\n')
	out.Close()
	if err != nil || strings.TrimSpace(line) != "y" {
		t.Errorf("%v printed %q, %v; want y", args, line, err)
	}
	_ = run.Wait()
	if ctx.Err() != nil {
		t.Fatalf("%v did not end once its output's reader had gone (stderr %q)", args, stderr.String())
	}
	return run.ProcessState.ExitCode(), stderr.String()
}

// TestRunInteractiveOutputClosedSilent: run -it's hang-up takes effect at once, as a
// foreground run -t's, though the container writes nothing more: a container whose session
// leader dies of SIGHUP (under --init, the command is no PID 1 that ignores it) ends, and
// strata exits with its status. The monitor closed the master while its copy of the output
// was blocked reading it, a blocking descriptor, and the close waited for that read, the
// container's next write: strata and the container waited on each other for good.
func TestRunInteractiveOutputClosedSilent(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "oc-silent") })
	user, tty, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pty on this machine: %v", err)
	}
	defer user.Close()
	defer tty.Close()
	go func() { _, _ = io.Copy(io.Discard, user) }()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	// y, then z once the test says so (its output's reader gone by then), then silence.
	run := exec.CommandContext(ctx, strataBin, "--root", root, "run", "-it", "--init", "--name", "oc-silent",
		"alpine", "sh", "-c", `echo y; until [ -e /go ]; do sleep 0.1; done; echo z; sleep 1000`)
	run.Stdin, run.Stdout, run.Stderr = tty, outW, &stderr
	run.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	line, err := bufio.NewReader(out).ReadString('\n')
	out.Close()
	if err != nil || strings.TrimSpace(line) != "y" {
		t.Fatalf("run -it printed %q, %v; want y (stderr %q)", line, err, stderr.String())
	}
	mustStrata(t, root, "exec", "oc-silent", "touch", "/go")
	_ = run.Wait()
	if ctx.Err() != nil {
		t.Fatalf("run -it did not end once its output's reader had gone and its container was hung up (stderr %q, top %q)",
			stderr.String(), strata(t, root, "top", "oc-silent").Stdout)
	}
	if code := run.ProcessState.ExitCode(); code != 129 || stderr.Len() != 0 {
		t.Errorf("run -it after the hang-up = exit %d, stderr %q; want 129 (SIGHUP) and nothing", code, stderr.String())
	}
}
