package integration

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// strataStdin runs strata with stdin as its standard input and extra as its fds 3 and up
// (inherited without close-on-exec, as a careless caller leaves them), and returns the
// outcome.
func strataStdin(t *testing.T, root string, stdin io.Reader, extra []*os.File, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin, append([]string{"--root", root}, args...)...)
	cmd.Env = append(os.Environ(), "STRATA_REGISTRY_MIRROR=")
	cmd.Stdin = stdin
	cmd.ExtraFiles = extra
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("running strata %v: %v", args, err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// hostInput writes a 0600 host file holding "from host\n" and opens it for reading.
func hostInput(t *testing.T) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(p, []byte("from host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// checkHostInput fails the test unless the file of hostInput is still 0600 with its content.
func checkHostInput(t *testing.T, f *os.File) {
	t.Helper()
	st, err := os.Stat(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Name())
	if st.Mode().Perm() != 0o600 || string(b) != "from host\n" {
		t.Errorf("host file strata read is %v holding %q, want 0600 holding its content", st.Mode().Perm(), b)
	}
}

// stdinProbe prints what the command's stdin is, tries to chmod and rewrite what is behind
// it, then copies it: a host file would come out 0666 and overwritten.
const stdinProbe = `readlink /proc/self/fd/0; chmod 666 /proc/self/fd/0; cat; echo written >> /proc/self/fd/0`

// TestRunInteractiveStdin: `run -i` gives the container a pipe strata feeds, as docker does:
// `echo hi | strata run -i alpine cat` prints hi, a host file strata reads stays out of the
// container's reach, and a stdin that stays open without input keeps neither the run nor
// --rm's cleanup waiting once the container has exited.
func TestRunInteractiveStdin(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	if r := strataStdin(t, root, strings.NewReader("hi\n"), nil, "run", "--rm", "-i", "alpine", "cat"); r.Code != 0 || r.Stdout != "hi\n" {
		t.Errorf("echo hi | run -i alpine cat = %d, %q, %q, want hi", r.Code, r.Stdout, r.Stderr)
	}

	in := hostInput(t)
	r := strataStdin(t, root, in, nil, "run", "--rm", "-i", "alpine", "sh", "-c", stdinProbe)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if r.Code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "pipe:") || lines[1] != "from host" {
		t.Errorf("run -i < file = %d, %q, %q, want a pipe, then the file's content", r.Code, r.Stdout, r.Stderr)
	}
	checkHostInput(t, in)

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	start := time.Now()
	if r := strataStdin(t, root, pr, nil, "run", "--rm", "-i", "--name", "quick", "alpine", "true"); r.Code != 0 {
		t.Errorf("run --rm -i with a silent stdin = %d, %q", r.Code, r.Stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("run --rm -i true took %v with a silent, open stdin", d)
	}
	if ps := mustStrata(t, root, "ps", "-a", "--format", "{{.Names}}"); strings.Contains(ps.Stdout, "quick") {
		t.Errorf("ps -a lists %q after run --rm, want it removed", ps.Stdout)
	}
}

// TestDetachedInteractiveStdin: `run -d -i` gives the container a pipe that stays open, not
// the stdin of the strata that started it.
func TestDetachedInteractiveStdin(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	in := hostInput(t)
	r := strataStdin(t, root, in, nil, "run", "-d", "-i", "alpine", "sh", "-c", stdinProbe)
	id := strings.TrimSpace(r.Stdout)
	if r.Code != 0 || len(id) != 64 {
		t.Fatalf("run -d -i = %d, %q, %q", r.Code, r.Stdout, r.Stderr)
	}
	t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
	deadline := time.Now().Add(10 * time.Second)
	var logs string
	for time.Now().Before(deadline) && !strings.Contains(logs, "\n") {
		logs = mustStrata(t, root, "logs", id).Stdout
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.HasPrefix(logs, "pipe:") || strings.Contains(logs, "from host") {
		t.Errorf("run -d -i < file: the container printed %q, want its own pipe as stdin", logs)
	}
	checkHostInput(t, in)
}

// TestExecStdioParity: exec's stdio, working directory and user failures, as docker exec's.
func TestExecStdioParity(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	id := detached(t, root, "alpine", "sleep", "2000")

	t.Run("-i from a host file", func(t *testing.T) {
		in := hostInput(t)
		r := strataStdin(t, root, in, nil, "exec", "-i", id, "sh", "-c", stdinProbe)
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		if r.Code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "pipe:") || lines[1] != "from host" {
			t.Errorf("exec -i < file = %d, %q, %q, want a pipe, then the file's content", r.Code, r.Stdout, r.Stderr)
		}
		checkHostInput(t, in)
	})

	// docker exec -w relative: "OCI runtime exec failed: exec failed: Cwd must be an
	// absolute path", 126; `-w tmp` used to run in /tmp.
	t.Run("-w relative", func(t *testing.T) {
		for _, dir := range []string{"tmp", "no/such/dir"} {
			r := strata(t, root, "exec", "-w", dir, id, "pwd")
			if r.Code != 126 || r.Stdout != "" || !strings.Contains(r.Stderr, "cwd must be an absolute path") {
				t.Errorf("exec -w %s = %d, %q, %q, want 126 and cwd must be an absolute path", dir, r.Code, r.Stdout, r.Stderr)
			}
		}
	})

	// docker exec -u nosuch: "unable to find user nosuch: no matching entries in passwd
	// file", 126.
	t.Run("-u unknown", func(t *testing.T) {
		for _, u := range []string{"nosuch", "root:nosuch"} {
			r := strata(t, root, "exec", "-u", u, id, "true")
			if r.Code != 126 || !strings.Contains(r.Stderr, "unable to find") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
				t.Errorf("exec -u %s = %d, %q, want 126 and one line naming it", u, r.Code, r.Stderr)
			}
		}
	})

	// docker keeps the command of exec -d -t running; strata closed its terminal when it
	// exited, and the command died of SIGHUP.
	t.Run("-d -t outlives strata", func(t *testing.T) {
		mustStrata(t, root, "exec", "-d", "-t", id, "sh", "-c", "sleep 0.5; head -c 200000 /dev/zero; exec sleep 777")
		running := func(ps string) bool { return slices.Contains(strings.Split(ps, "\n"), "sleep 777") }
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var ps string
		for ctx.Err() == nil && !running(ps) {
			time.Sleep(100 * time.Millisecond)
			ps = mustStrata(t, root, "exec", id, "ps", "-o", "args").Stdout
		}
		if !running(ps) {
			t.Errorf("after exec -d -t, ps in the container = %q, want sleep 777 running", ps)
		}
	})

	// Only 0, 1, 2 and ls's own directory: not the fds strata itself inherited without
	// close-on-exec, nor any of strata's or its helper's.
	t.Run("fds", func(t *testing.T) {
		leak := hostInput(t)
		extra := []*os.File{leak, leak, leak, leak, leak, leak, leak}
		for _, args := range [][]string{
			{"exec", id, "ls", "/proc/self/fd"},
			{"exec", "-i", id, "ls", "/proc/self/fd"},
			{"exec", "-t", id, "ls", "/proc/self/fd"},
			{"exec", "-u", "nobody", id, "ls", "/proc/self/fd"},
			{"run", "--rm", "alpine", "ls", "/proc/self/fd"},
			{"run", "--rm", "-i", "alpine", "ls", "/proc/self/fd"},
			{"run", "--rm", "-t", "alpine", "ls", "/proc/self/fd"},
		} {
			r := strataStdin(t, root, strings.NewReader(""), extra, args...)
			// On a terminal, busybox's ls colors its output.
			out := ansiColor.ReplaceAllString(r.Stdout, "")
			if got := strings.Join(strings.Fields(out), " "); r.Code != 0 || got != "0 1 2 3" {
				t.Errorf("%q = %d, fds %q (%q), want 0 1 2 3", args, r.Code, got, r.Stderr)
			}
		}
	})
}

// ansiColor matches a terminal color sequence.
var ansiColor = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestLogsTailNotANumber: docker's daemon takes a --tail value that is not a number, or a
// negative one, as all; strata refused it.
func TestLogsTailNotANumber(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	id := detached(t, root, "alpine", "sh", "-c", "echo one; echo two")
	mustStrata(t, root, "wait", id)
	for _, tail := range []string{"x", "-1", "", "all"} {
		r := strata(t, root, "logs", "--tail", tail, id)
		if r.Code != 0 || r.Stdout != "one\ntwo\n" {
			t.Errorf("logs --tail %q = %d, %q, %q, want both lines", tail, r.Code, r.Stdout, r.Stderr)
		}
	}
	if r := mustStrata(t, root, "logs", "--tail", "1", id); r.Stdout != "two\n" {
		t.Errorf("logs --tail 1 = %q, want two", r.Stdout)
	}
}
