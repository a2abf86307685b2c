package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// startedContainer starts a detached alpine container running args, after spec (if not nil)
// adjusts its Spec, and removes it (killing it) when the test ends.
func startedContainer(t testing.TB, spec func(*Spec), args ...string) *Container {
	t.Helper()
	return startedContainerIn(t, t.TempDir(), spec, args...)
}

// startedContainerIn is startedContainer with its store in dir: under <root>/containers, the
// container's events go to <root>/events.log.
func startedContainerIn(t testing.TB, dir string, spec func(*Spec), args ...string) *Container {
	t.Helper()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	base := testSpec(t, args...)
	c, err := s.Create(Config{Spec: base, Image: "alpine:3.20.3"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Remove(context.Background(), c, true); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(filepath.Join(c.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c.Config.Spec.Root[0].Options = []string{
		base.Root[0].Options[0],
		"upperdir=" + filepath.Join(c.Dir, "upper"), "workdir=" + filepath.Join(c.Dir, "work"),
	}
	if spec != nil {
		spec(&c.Config.Spec)
	}
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	if err := Start(context.Background(), c); err != nil {
		t.Fatalf("Start = %v", err)
	}
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	return c
}

// execOut runs Exec and returns its code and trimmed output.
func execOut(t *testing.T, c *Container, opts ExecOptions) (int, string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	code, err := Exec(context.Background(), c, opts, Stdio{Stdout: &out, Stderr: &errb})
	return code, strings.TrimSpace(out.String()), strings.TrimSpace(errb.String()), err
}

// hostNS is readlink /proc/<pid>/ns/<name> as the host sees it.
func hostNS(t *testing.T, pid int, name string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, name))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// procStatusField returns one "Key:\tvalue" line's value from /proc/<pid>/status.
func procStatusField(t *testing.T, pid int, key string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, key)
	return ""
}

func TestExec(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, func(s *Spec) { s.Env = append(s.Env, "FROM_IMAGE=yes") }, "sleep", "1000")
	pid := c.State.Pid

	var nsScript strings.Builder
	var nsWant []string
	for _, n := range []string{"mnt", "uts", "ipc", "pid", "net", "cgroup"} {
		fmt.Fprintf(&nsScript, "readlink /proc/self/ns/%s; ", n)
		nsWant = append(nsWant, hostNS(t, pid, n))
	}
	tests := []struct {
		name     string
		opts     ExecOptions
		wantCode int
		want     string // exact trimmed stdout, when not empty
	}{
		{name: "pid 1 is the entrypoint", opts: ExecOptions{Args: []string{"sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"}}, want: "sleep 1000"},
		{name: "every namespace", opts: ExecOptions{Args: []string{"sh", "-c", nsScript.String()}}, want: strings.Join(nsWant, "\n")},
		{name: "image env and -e", opts: ExecOptions{Args: []string{"sh", "-c", "echo $FROM_IMAGE $FOO"}, Env: []string{"FOO=bar"}}, want: "yes bar"},
		{name: "workdir", opts: ExecOptions{Args: []string{"pwd"}, Cwd: "/tmp"}, want: "/tmp"},
		{name: "user", opts: ExecOptions{Args: []string{"id", "-u"}, User: "nobody"}, want: "65534"},
		{name: "same cgroup as pid 1", opts: ExecOptions{Args: []string{"sh", "-c", "[ \"$(cat /proc/self/cgroup)\" = \"$(cat /proc/1/cgroup)\" ] && echo same"}}, want: "same"},
		{name: "same capabilities as pid 1", opts: ExecOptions{Args: []string{"sh", "-c", "grep CapEff /proc/self/status"}}, want: "CapEff:\t" + procStatusField(t, pid, "CapEff")},
		{name: "no_new_privs and seccomp as pid 1", opts: ExecOptions{Args: []string{"sh", "-c", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"}},
			want: "NoNewPrivs:\t" + procStatusField(t, pid, "NoNewPrivs") + "\nSeccomp:\t" + procStatusField(t, pid, "Seccomp")},
		// As docker's: every capability, under the container's no_new_privs and filter.
		{name: "privileged", opts: ExecOptions{Args: []string{"sh", "-c", "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status"}, Privileged: true},
			want: "CapEff:\t" + procStatusField(t, os.Getpid(), "CapEff") + "\nNoNewPrivs:\t" + procStatusField(t, pid, "NoNewPrivs") + "\nSeccomp:\t" + procStatusField(t, pid, "Seccomp")},
		{name: "exit status", opts: ExecOptions{Args: []string{"sh", "-c", "exit 3"}}, wantCode: 3},
		{name: "killed by a signal", opts: ExecOptions{Args: []string{"sh", "-c", "kill -9 $$"}}, wantCode: 137},
		{name: "not found", opts: ExecOptions{Args: []string{"no-such-command"}}, wantCode: ExitNotFound},
		{name: "not executable", opts: ExecOptions{Args: []string{"/etc/passwd"}}, wantCode: ExitCannotInvoke},
		{name: "missing workdir", opts: ExecOptions{Args: []string{"true"}, Cwd: "/no/such/dir"}, wantCode: ExitCannotInvoke},
		// docker exec: 126 for both, from its daemon and runc once the exec has started.
		{name: "unknown user", opts: ExecOptions{Args: []string{"true"}, User: "nosuchuser"}, wantCode: ExitCannotInvoke},
		{name: "unknown group", opts: ExecOptions{Args: []string{"true"}, User: "root:nosuchgroup"}, wantCode: ExitCannotInvoke},
		{name: "relative workdir", opts: ExecOptions{Args: []string{"pwd"}, Cwd: "tmp"}, wantCode: ExitCannotInvoke},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut, err := execOut(t, c, tt.opts)
			if code != tt.wantCode {
				t.Fatalf("Exec(%q) = %d, %v, want %d; stderr: %s", tt.opts.Args, code, err, tt.wantCode, errOut)
			}
			if tt.want != "" && out != tt.want {
				t.Errorf("Exec(%q) printed %q, want %q", tt.opts.Args, out, tt.want)
			}
		})
	}
}

func TestExecDetach(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	code, _, _, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c", "echo done > /tmp/detached"}, Detach: true})
	if err != nil || code != 0 {
		t.Fatalf("Exec(detached) = %d, %v", code, err)
	}
	// The detached command may still run: wait for its file through a second exec.
	code, out, _, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c", "while [ ! -s /tmp/detached ]; do sleep 0.05; done; cat /tmp/detached"}})
	if err != nil || code != 0 || out != "done" {
		t.Errorf("reading the detached command's file = %d, %q, %v", code, out, err)
	}
}

// TestExecDetachTerminal: exec -d -t keeps its command running once Exec returns, as docker
// does: closing the terminal's master would send it SIGHUP (which killed it), and a master
// nobody reads would block it as soon as it wrote more than the terminal buffers. Its
// helper, staying as its parent, reaps it: no zombie is left under a PID 1 that reaps none.
func TestExecDetachTerminal(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	code, _, _, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c",
		"sleep 0.3; head -c 300000 /dev/zero; [ -t 1 ] && echo alive > /tmp/alive"}, Detach: true, Terminal: true})
	if err != nil || code != 0 {
		t.Fatalf("Exec(-d -t) = %d, %v", code, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	code, err = Exec(ctx, c, ExecOptions{Args: []string{"sh", "-c",
		`while [ ! -s /tmp/alive ]; do sleep 0.05; done; cat /tmp/alive
		for i in $(seq 40); do grep -q '^State:.*Z' /proc/[0-9]*/status || exit 0; sleep 0.05; done; echo zombie; exit 1`}},
		Stdio{Stdout: &out, Stderr: &out})
	if err != nil || code != 0 || strings.TrimSpace(out.String()) != "alive" {
		t.Errorf("the command of exec -d -t: %d, %v, %q, want it to run to its end, on its terminal, and be reaped", code, err, out.String())
	}
}

func TestExecNotRunning(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "true")
	code, err := Exec(context.Background(), c, ExecOptions{Args: []string{"true"}}, Stdio{})
	if !errors.Is(err, ErrNotRunning) || code != ExitOwnError {
		t.Errorf("Exec(created container) = %d, %v, want %d, ErrNotRunning", code, err, ExitOwnError)
	}
}

// TestExecStdinNotWaitedFor: Exec returns once the command exits, whatever its -i input: a
// reader that blocks (here one nobody writes to) is copied but not waited for, as Run's;
// os/exec's own copy of such a reader is one Wait waits for, for good.
func TestExecStdinNotWaitedFor(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	r, w := io.Pipe()
	defer w.Close()
	done := make(chan error, 1)
	go func() {
		code, err := Exec(context.Background(), c, ExecOptions{Args: []string{"true"}, Stdin: true}, Stdio{Stdin: r})
		if err == nil && code != 0 {
			err = fmt.Errorf("exit %d", code)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Exec = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("Exec -i true still waits for its silent input after 5 s")
		w.Close() // its end lets the copy, and Exec, return
		<-done
	}
}

// TestExecTerminalBackground: exec -t returns once its command exits, although a background
// process it left, which ignores SIGHUP, holds the terminal open: its output is drained for
// at most outputDrain, as exec's pipes are without -t. Exec waited for that process to end.
func TestExecTerminalBackground(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	start := time.Now()
	var out bytes.Buffer
	code, err := Exec(context.Background(), c, ExecOptions{Args: []string{"sh", "-c", `trap "" HUP; sleep 30 & echo started`}, Terminal: true}, Stdio{Stdout: &out})
	if err != nil || code != 0 || !strings.Contains(out.String(), "started") {
		t.Fatalf("Exec = %d, %v, printed %q", code, err, out.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Exec -t took %v, want it to return about a second after its command exits", d)
	}
}

// TestExecLongArguments: a failure quoting a very long command name, user or working
// directory keeps its status and says why, cut short: the helper's answer outgrew what strata
// reads, and every such failure was 125 "reading helper's answer: unexpected end of JSON input".
func TestExecLongArguments(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	long := strings.Repeat("x", 70000)
	tests := []struct {
		opts     ExecOptions
		wantCode int
		want     string
	}{
		{ExecOptions{Args: []string{long}}, ExitNotFound, "executable file not found"}, // as docker
		{ExecOptions{Args: []string{"true"}, User: long}, ExitCannotInvoke, "unable to find user"},
		{ExecOptions{Args: []string{"true"}, Cwd: "/" + long}, ExitCannotInvoke, "changing to working directory"},
	}
	for _, tt := range tests {
		code, _, _, err := execOut(t, c, tt.opts)
		if code != tt.wantCode || err == nil || !strings.Contains(err.Error(), tt.want) || len(err.Error()) > 8<<10 {
			msg := fmt.Sprint(err)
			if len(msg) > 200 {
				msg = msg[:100] + "..." + msg[len(msg)-100:]
			}
			t.Errorf("Exec with a 70 KB argument = %d, %s (%d bytes), want %d, %q, cut short", code, msg, len(fmt.Sprint(err)), tt.wantCode, tt.want)
		}
	}
}

// TestExecRemoved: exec into a container removed since it was looked up says it is gone
// (ErrNotFound, 125), as `exec nosuch` does, not that its state.json cannot be read.
func TestExecRemoved(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "true")
	if err := s.Remove(context.Background(), c, true); err != nil {
		t.Fatal(err)
	}
	code, err := Exec(context.Background(), c, ExecOptions{Args: []string{"true"}}, Stdio{})
	if !errors.Is(err, ErrNotFound) || code != ExitOwnError {
		t.Errorf("Exec(removed container) = %d, %v, want %d, ErrNotFound", code, err, ExitOwnError)
	}
}

func TestEnter(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay, testutil.Command("ip"))
	c := startedContainer(t, nil, "sleep", "1000")
	pid := c.State.Pid
	self := func(name string) string {
		l, err := os.Readlink("/proc/self/ns/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	// The host's readlink and the host's alpine-less files prove the command is the host's;
	// the links prove which namespaces it joined.
	script := "readlink /proc/self/ns/net /proc/self/ns/uts /proc/self/ns/mnt; test -e /proc/" + fmt.Sprint(pid) + "/root/etc/alpine-release && echo root-visible"
	tests := []struct {
		name string
		ns   []string
		want []string
	}{
		{name: "default is net", ns: nil, want: []string{hostNS(t, pid, "net"), self("uts"), self("mnt"), "root-visible"}},
		{name: "net,uts", ns: []string{"net,uts"}, want: []string{hostNS(t, pid, "net"), hostNS(t, pid, "uts"), self("mnt"), "root-visible"}},
		{name: "all", ns: []string{"all"}, want: []string{hostNS(t, pid, "net"), hostNS(t, pid, "uts"), hostNS(t, pid, "mnt"), "root-visible"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code, err := Enter(context.Background(), c, EnterOptions{Namespaces: tt.ns, Args: []string{"sh", "-c", script}}, Stdio{Stdout: &out, Stderr: &errb})
			if err != nil || code != 0 {
				t.Fatalf("Enter(%q) = %d, %v; stderr: %s", tt.ns, code, err, errb.String())
			}
			if got := strings.Fields(out.String()); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Enter(%q) printed %q, want %q", tt.ns, got, tt.want)
			}
		})
	}

	t.Run("host ip sees only lo", func(t *testing.T) {
		var out bytes.Buffer
		code, err := Enter(context.Background(), c, EnterOptions{Args: []string{"ip", "-o", "link"}}, Stdio{Stdout: &out})
		if err != nil || code != 0 {
			t.Fatalf("Enter(ip -o link) = %d, %v", code, err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], ": lo:") {
			t.Errorf("ip -o link in the container's net namespace = %q, want only lo", lines)
		}
	})
	t.Run("keeps the working directory and gets a terminal", func(t *testing.T) {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code, err := Enter(context.Background(), c, EnterOptions{Namespaces: []string{"all"}, Terminal: true, Args: []string{"sh", "-c", "pwd; [ -t 0 ] && tty"}}, Stdio{Stdout: &out})
		if err != nil || code != 0 {
			t.Fatalf("Enter(pwd) = %d, %v; output %q", code, err, out.String())
		}
		lines := strings.Fields(out.String())
		if len(lines) != 2 || lines[0] != wd || !strings.HasPrefix(lines[1], "/dev/pts/") {
			t.Errorf("Enter(all, -t, pwd; tty) printed %q, want %s and a host /dev/pts/N", lines, wd)
		}
	})
	t.Run("unknown namespace", func(t *testing.T) {
		code, err := Enter(context.Background(), c, EnterOptions{Namespaces: []string{"bogus"}, Args: []string{"true"}}, Stdio{})
		if err == nil || code != ExitOwnError {
			t.Errorf("Enter(bogus) = %d, %v, want %d and an error", code, err, ExitOwnError)
		}
	})
}

func TestParseNamespaces(t *testing.T) {
	tests := []struct {
		in      []string
		want    string
		wantErr bool
	}{
		{in: nil, want: "net"},
		{in: []string{"net,pid"}, want: "net pid"},
		{in: []string{"pid", "net", "pid"}, want: "pid net"},
		{in: []string{"all"}, want: "mnt uts ipc pid net cgroup"},
		{in: []string{"user"}, wantErr: true},
		{in: []string{"net,"}, wantErr: true},
		{in: []string{strings.Repeat("n", 1<<20)}, wantErr: true}, // quoted back cut
	}
	for _, tt := range tests {
		got, err := ParseNamespaces(tt.in)
		if err != nil && len(err.Error()) > 512 {
			t.Errorf("ParseNamespaces(%.40q) error is %d bytes, want it cut", tt.in, len(err.Error()))
		}
		if (err != nil) != tt.wantErr || (err == nil && strings.Join(got, " ") != tt.want) {
			t.Errorf("ParseNamespaces(%q) = %q, %v, want %q (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestExecStdio(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	tests := []struct {
		name  string
		opts  ExecOptions
		stdin string
		want  string
	}{
		{name: "stdin with -i", opts: ExecOptions{Args: []string{"cat"}, Stdin: true}, stdin: "hello", want: "hello"},
		{name: "no stdin without -i", opts: ExecOptions{Args: []string{"cat"}}, stdin: "hello", want: ""},
		{name: "terminal", opts: ExecOptions{Args: []string{"sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo tty $TERM"}, Terminal: true}, want: "tty xterm"},
		// The pty comes from the container's devpts: tty(1) can name it, and it is the user's.
		{name: "terminal in the container's devpts", opts: ExecOptions{Args: []string{"sh", "-c", "t=$(tty) && ls /dev/pts | grep -qx ${t#/dev/pts/} && stat -c %u $t"}, Terminal: true, User: "nobody"}, want: "65534"},
		{name: "terminal with -i", opts: ExecOptions{Args: []string{"sh", "-c", "read l; echo got $l"}, Terminal: true, Stdin: true}, stdin: "line\n", want: "line\ngot line"},
		{name: "pipes without -t", opts: ExecOptions{Args: []string{"sh", "-c", "[ -t 1 ] || echo pipe"}}, want: "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code, err := Exec(context.Background(), c, tt.opts, Stdio{Stdin: strings.NewReader(tt.stdin), Stdout: &out, Stderr: &out})
			if err != nil || code != 0 {
				t.Fatalf("Exec(%q) = %d, %v; output %q", tt.opts.Args, code, err, out.String())
			}
			// A terminal ends lines with \r\n.
			if got := strings.TrimSpace(strings.ReplaceAll(out.String(), "\r", "")); got != tt.want {
				t.Errorf("Exec(%q) printed %q, want %q", tt.opts.Args, got, tt.want)
			}
		})
	}
}

// BenchmarkExec measures `exec true` into a running container: the helper's start, setns,
// confinement and the command's fork and exit.
func BenchmarkExec(b *testing.B) {
	testutil.Requires(b, testutil.Root, testutil.Overlay)
	c := startedContainer(b, nil, "sleep", "1000")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		code, err := Exec(context.Background(), c, ExecOptions{Args: []string{"true"}}, Stdio{})
		if err != nil || code != 0 {
			b.Fatalf("Exec(true) = %d, %v", code, err)
		}
	}
}

// TestExecHostileContainer: what a container did to its own files must not hang or fool
// exec, which reads them as root before dropping privileges.
func TestExecHostileContainer(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	if code, _, errOut, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c", "rm /etc/passwd && mkfifo /etc/passwd"}}); code != 0 {
		t.Fatalf("replacing /etc/passwd with a FIFO = %d, %v: %s", code, err, errOut)
	}
	code, _, _, err := execOut(t, c, ExecOptions{Args: []string{"true"}, User: "nobody"})
	// The helper's error crosses a process boundary as text.
	if code != ExitCannotInvoke || err == nil || !strings.Contains(err.Error(), "unable to find user nobody") {
		t.Errorf("Exec(-u nobody) with a FIFO passwd = %d, %v, want %d and an unknown user", code, err, ExitCannotInvoke)
	}
	// Not id(1): it would read the FIFO itself.
	if code, out, _, err := execOut(t, c, ExecOptions{Args: []string{"grep", "^Uid:", "/proc/self/status"}, User: "1000"}); code != 0 || strings.Join(strings.Fields(out), " ") != "Uid: 1000 1000 1000 1000" {
		t.Errorf("Exec(-u 1000) with a FIFO passwd = %d, %q, %v, want uid 1000", code, out, err)
	}
}

func TestExecCustomSeccomp(t *testing.T) {
	// exec applies the container's own profile, not Docker's default: the one here lets
	// unshare -U through (the default refuses it) and refuses mkdir.
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, func(s *Spec) { s.Seccomp = denyMkdir }, "sleep", "1000")
	code, out, errOut, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c",
		"unshare -U true && echo allowed; mkdir /tmp/d 2>&1 | grep -o 'Permission denied'"}})
	if code != 0 || out != "allowed\nPermission denied" {
		t.Errorf("exec under the container's profile = %d, %v, %q (stderr %q), want 0 and allowed, Permission denied", code, err, out, errOut)
	}
}

// TestExecInContainerCgroup: an exec'd command is in the container's cgroup in every hierarchy
// (its helper was born in the unified or v2 one and joined the v1 ones itself): under the
// container's cgroup namespace, each of its /proc/self/cgroup lines reads "/".
func TestExecInContainerCgroup(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	for _, detach := range []bool{false, true} {
		args := []string{"cat", "/proc/self/cgroup"}
		if detach {
			args = []string{"sh", "-c", "cat /proc/self/cgroup > /tmp/cg"}
		}
		code, out, _, err := execOut(t, c, ExecOptions{Args: args, Detach: detach})
		if err != nil || code != 0 {
			t.Fatalf("Exec = %d, %v", code, err)
		}
		if detach {
			code, out, _, err = execOut(t, c, ExecOptions{Args: []string{"sh", "-c", "while [ ! -s /tmp/cg ]; do sleep 0.05; done; cat /tmp/cg"}})
			if err != nil || code != 0 {
				t.Fatalf("reading the detached command's cgroups = %d, %v", code, err)
			}
		}
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasSuffix(line, ":/") {
				t.Errorf("detach=%v: exec'd command outside the container's cgroup: %q", detach, line)
			}
		}
	}
}

// TestNotRunningIfExited: an exec whose target PID 1 exits right after it was found running
// fails as "not running", not with the ENOENT, ESRCH or ENOMEM the half-gone process gives.
func TestNotRunningIfExited(t *testing.T) {
	child := exec.Command("sleep", "1000")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	fd, err := unix.PidfdOpen(child.Process.Pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	pidfd := os.NewFile(uintptr(fd), "pidfd")
	defer pidfd.Close()
	other := errors.New("other failure")
	if err := notRunningIfExited(child.Process.Pid, pidfd, other); err != other {
		t.Errorf("for a running process = %v, want the error given", err)
	}
	// Killed and not reaped: a zombie, as the container's PID 1 is until its monitor reaps it.
	if err := child.Process.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 10000); err != nil {
		t.Fatal(err)
	}
	if _, err := containerNamespaces(child.Process.Pid, allNamespaces); err == nil {
		t.Skip("the namespaces of a zombie read fine here")
	} else if got := notRunningIfExited(child.Process.Pid, pidfd, err); !errors.Is(got, ErrNotRunning) {
		t.Errorf("for an exited process = %v, want ErrNotRunning", got)
	}
}
