package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner/cgroups"
)

func TestRunExitStatus(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"zero", []string{"true"}, 0},
		{"three", []string{"sh", "-c", "exit 3"}, 3},
		// PID 1 of a pid namespace ignores signals it has no handler for, even SIGKILL sent
		// from inside: the shell survives its own kill -9 and exits 0, as under docker.
		{"pid 1 ignores its own kill", []string{"sh", "-c", "kill -9 $$; exit 4"}, 4},
		{"child killed", []string{"sh", "-c", "sh -c 'kill -9 $$'; exit $?"}, 128 + 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr, err := runOut(t, testSpec(t, tt.args...))
			if err != nil || code != tt.want {
				t.Fatalf("Run(%q) = %d, %v, want %d; stderr: %s", tt.args, code, err, tt.want, stderr)
			}
		})
	}
}

func TestRunExecErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    int
		wantMsg string
	}{
		{"not found", []string{"nosuchcmd"}, ExitNotFound, `exec: "nosuchcmd": executable file not found in $PATH`},
		{"absolute not found", []string{"/nope"}, ExitNotFound, `exec: "/nope": stat /nope: no such file or directory`},
		{"not executable", []string{"/etc/passwd"}, ExitCannotInvoke, `exec: "/etc/passwd": permission denied`},
		{"directory", []string{"/etc"}, ExitCannotInvoke, `exec: "/etc": is a directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, _, err := runOut(t, testSpec(t, tt.args...))
			var ec *ExitCodeError
			if !errors.As(err, &ec) || code != tt.want || ec.Code != tt.want {
				t.Fatalf("Run(%q) = %d, %v, want code %d", tt.args, code, err, tt.want)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("Run(%q) error = %q, want %q", tt.args, err.Error(), tt.wantMsg)
			}
		})
	}
}

func TestRunNamespaces(t *testing.T) {
	// Every namespace the init creates must differ from the test's own. The container prints
	// its links; /proc inside is its own procfs, so "self" is the container's shell.
	spec := testSpec(t, "sh", "-c", "for n in pid mnt net uts ipc cgroup; do echo $n $(readlink /proc/self/ns/$n); done")
	out := mustRun(t, spec)
	for _, line := range strings.Split(out, "\n") {
		ns, link, _ := strings.Cut(line, " ")
		host, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		if link == "" || link == host {
			t.Errorf("namespace %s inside = %q, host = %q, want a different one", ns, link, host)
		}
	}
	if n := strings.Count(out, "\n") + 1; n != 6 {
		t.Errorf("got %d namespace lines, want 6: %q", n, out)
	}
}

func TestRunNetworkHost(t *testing.T) {
	spec := testSpec(t, "readlink", "/proc/self/ns/net")
	spec.Network = NetworkHost
	host, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, spec); got != host {
		t.Errorf("net namespace with --network host = %q, want the host's %q", got, host)
	}
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	spec = testSpec(t, "hostname")
	spec.Network = NetworkHost
	if got := mustRun(t, spec); got != hostname {
		t.Errorf("hostname with --network host = %q, want the host's %q", got, hostname)
	}
}

func TestRunNetworkNoneLoopback(t *testing.T) {
	// lo must be up (the kernel creates it down) and be the only interface.
	spec := testSpec(t, "sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/operstate; ping -c1 -W1 127.0.0.1 >/dev/null && echo pong")
	spec.CapAdd = []string{"NET_RAW"}
	out := mustRun(t, spec)
	if out != "lo\nunknown\npong" {
		t.Errorf("network none: got %q, want only lo, up, answering ping", out)
	}
}

func TestRunHostnameEnvCwd(t *testing.T) {
	spec := testSpec(t, "sh", "-c", `echo "$(hostname) $(cat /etc/hostname) $HOSTNAME $FOO $HOME $(pwd)"`)
	spec.Hostname = "box"
	spec.Env = append(spec.Env, "FOO=bar")
	spec.Cwd = "/new/work/dir"
	want := "box box box bar /root /new/work/dir"
	if got := mustRun(t, spec); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRunEtcFiles(t *testing.T) {
	// /etc/hosts and resolv.conf are binds of the container dir's files; the image's own
	// files stay as they were.
	spec := testSpec(t, "sh", "-c", "grep -c localhost /etc/hosts; grep -c 127.0.1.1 /etc/hosts; grep nameserver /etc/resolv.conf | grep -c '127\\.' ; true")
	spec.Hostname = "h1"
	out := mustRun(t, spec)
	lines := strings.Split(out, "\n")
	if len(lines) != 3 || lines[0] == "0" || lines[1] != "1" || lines[2] != "0" {
		t.Errorf("etc files: got %q, want localhost lines, the hostname line, no loopback nameserver", out)
	}
	if _, err := os.Stat(filepath.Join(spec.Dir, "upper", "etc", "hosts")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the image's /etc/hosts was written to (upper has it): %v", err)
	}
}

func TestRunNothingMountedOnHost(t *testing.T) {
	spec := testSpec(t, "true")
	mustRun(t, spec)
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), spec.Dir) {
		t.Errorf("host mountinfo mentions the container dir %s after Run", spec.Dir)
	}
	if cg, err := cgroups.Load(spec.ID); err == nil {
		cg.Delete()
		t.Errorf("cgroup %s still exists after Run", spec.ID)
	}
}

func TestRunInitError(t *testing.T) {
	spec := testSpec(t, "true")
	spec.Root[0].Options = append(spec.Root[0].Options, "lowerdir=/nonexistent-lower")
	code, _, _, err := runOut(t, spec)
	if code != ExitOwnError || err == nil || !strings.HasPrefix(err.Error(), "init: mounting rootfs: ") {
		t.Fatalf("Run with a bad lowerdir = %d, %v, want 125 and an init: mounting rootfs: error", code, err)
	}
}

func TestRunInit(t *testing.T) {
	testutil.Requires(t, staticSelf)
	tests := []struct {
		name string
		cmd  string
		want int
	}{
		// With --init the command is not PID 1, so an unhandled TERM kills it: 128+15.
		{"signal kills the command", "kill -TERM $$; sleep 1", 128 + 15},
		{"exit status passes through", "exit 6", 6},
		// An orphan is reaped: the zombie count after its parent exits is zero.
		{"orphans reaped", "sh -c 'sleep 0.1 &'; sleep 0.3; test -z \"$(ps -o stat | grep Z)\"", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec(t, "sh", "-c", tt.cmd)
			spec.Init = true
			code, _, stderr, err := runOut(t, spec)
			if err != nil || code != tt.want {
				t.Fatalf("Run(--init, %q) = %d, %v, want %d; stderr: %s", tt.cmd, code, err, tt.want, stderr)
			}
		})
	}
	spec := testSpec(t, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '")
	spec.Init = true
	if got := mustRun(t, spec); !strings.HasPrefix(got, reaperMarker+" /bin/sh sh -c") {
		t.Errorf("PID 1 with --init is %q, want the reaper", got)
	}
}

func TestRunCgroupFS(t *testing.T) {
	// The container sees its own cgroup as the root of each hierarchy, read-only.
	spec := testSpec(t, "sh", "-c", "cat /proc/self/cgroup | cut -d: -f3 | sort -u | tr '\\n' ' '; echo; grep -c ' /sys/fs/cgroup' /proc/self/mountinfo; touch /sys/fs/cgroup/x 2>/dev/null && echo writable; ls /sys/fs/cgroup | grep -q . && echo listed")
	out := mustRun(t, spec)
	lines := strings.Split(out, "\n")
	if len(lines) != 3 || lines[0] != "/ " || lines[1] == "0" || lines[2] != "listed" {
		t.Errorf("cgroup view inside = %q, want every cgroup at /, /sys/fs/cgroup mounted, listed, read-only", out)
	}
}

func TestRunStdin(t *testing.T) {
	tests := []struct {
		name   string
		attach bool
		want   string
	}{
		{"attached with -i", true, "hello"},
		{"/dev/null without -i", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec(t, "cat")
			spec.Stdin = tt.attach
			var out bytes.Buffer
			code, err := Run(context.Background(), spec, Stdio{Stdin: strings.NewReader("hello"), Stdout: &out})
			if err != nil || code != 0 || out.String() != tt.want {
				t.Errorf("Run(cat) = %d, %v, output %q, want %q", code, err, out.String(), tt.want)
			}
		})
	}
}

func TestRunCanceled(t *testing.T) {
	spec := testSpec(t, "sleep", "1000")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var code int
	go func() {
		code, _ = Run(ctx, spec, Stdio{})
		close(done)
	}()
	cancel()
	<-done // a hang here is the failure: the test binary's timeout reports it
	if code == 0 {
		t.Errorf("Run(canceled) = 0, want a failure or the kill status")
	}
}

// TestUmaskIsDockers: whatever umask strata runs with, the container's command and an exec'd
// one start with docker's 0022, and what the init makes has the modes it asks for: the device
// nodes the host's, a directory it makes for a mount 0755.
func TestUmaskIsDockers(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	spec := testSpec(t, "sh", "-c", "umask; stat -c %a /dev/null /dev/zero /made")
	spec.Mounts = []mount.Mount{{Type: "tmpfs", Source: "tmpfs", Target: "/made/inside"}}
	if out := strings.Fields(mustRun(t, spec)); strings.Join(out, " ") != "0022 666 666 755" {
		t.Errorf("umask and modes in the container = %q, want 0022 666 666 755", out)
	}
	c := startedContainer(t, nil, "sleep", "1000")
	if code, out, errOut, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c", "umask"}}); err != nil || code != 0 || out != "0022" {
		t.Errorf("umask of an exec'd command = %q (%d, %v, %s), want 0022", out, code, err, errOut)
	}
}

// TestRunOwnSession: a container started without -t leads a session of its own, as runc's do:
// it cannot keep the user's terminal as its controlling one and type into the user's shell
// with TIOCSTI. Seen from its pid namespace its session is 1; one inherited from outside
// would read 0.
func TestRunOwnSession(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	if got := mustRun(t, testSpec(t, "sh", "-c", "cut -d' ' -f6 /proc/self/stat")); got != "1" {
		t.Errorf("session of a container's process = %q, want 1 (its PID 1's own)", got)
	}
}

// TestRunStdioNotHostFiles: a container given strata's own files as stdio reaches neither
// through /proc/self/fd: its stdout is a pipe to the file (which still gets the output), and
// without -i its stdin is its own /dev/null, not the host's.
func TestRunStdioNotHostFiles(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	out, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	spec := testSpec(t, "sh", "-c", `readlink /proc/self/fd/1; [ "$(stat -L -c %d:%i /proc/self/fd/0)" = "$(stat -c %d:%i /dev/null)" ] && echo own-null`)
	code, err := Run(context.Background(), spec, Stdio{Stdout: out, Stderr: out})
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v", code, err)
	}
	b, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(b))
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "pipe:") || lines[1] != "own-null" {
		t.Errorf("container saw stdout %q, want a pipe, then its own /dev/null as stdin", b)
	}
}

// TestRunStdinPipe: with -i (no -t) the container's stdin is a pipe strata feeds, as docker's,
// never strata's own stdin: through /proc/self/fd/0 the container could chmod the host file
// strata read, or reopen it for writing. The file's content still arrives, and its end closes
// the container's stdin.
func TestRunStdinPipe(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	host := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(host, []byte("from host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(host)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	spec := testSpec(t, "sh", "-c", `readlink /proc/self/fd/0; chmod 666 /proc/self/fd/0; cat`)
	spec.Stdin = true
	var out bytes.Buffer
	code, err := Run(context.Background(), spec, Stdio{Stdin: in, Stdout: &out, Stderr: io.Discard})
	if err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "pipe:") || lines[1] != "from host" {
		t.Errorf("container printed %q, want a pipe as its stdin, then the file's content", out.String())
	}
	st, err := os.Stat(host)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(host)
	if st.Mode().Perm() != 0o600 || string(b) != "from host\n" {
		t.Errorf("host file is %v holding %q after the run, want 0600 holding its content", st.Mode().Perm(), b)
	}
}

// TestRunStdinNotWaitedFor: Run returns as soon as the container exits, although its input
// (a reader nobody writes to or closes here, not a file) still has its copy blocked in a
// read: os/exec's own copy of such a reader is one Wait waits for, for good. And a container
// that closes its stdin while more input comes is not sent the SIGPIPE strata's copy then
// gets, which is strata's own, not the container's (docker's proxy skips it too).
func TestRunStdinNotWaitedFor(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	r, w := io.Pipe()
	defer w.Close()
	spec := testSpec(t, "true")
	spec.Stdin = true
	done := make(chan error, 1)
	go func() {
		code, err := Run(context.Background(), spec, Stdio{Stdin: r})
		if err == nil && code != 0 {
			err = fmt.Errorf("exit %d", code)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("Run of true still waits for its silent input after 5 s")
		w.Close() // its end lets the copy, and Run, return
		<-done
	}

	// A PID 1 without a handler would ignore a SIGPIPE strata sent it (the kernel protects a
	// namespace's init from signals it does not handle); one that handles it would run it.
	spec = testSpec(t, "sh", "-c", `trap "echo got PIPE; exit 3" PIPE; exec 0<&-; sleep 0.3; echo alive`)
	spec.Stdin = true
	var out bytes.Buffer
	code, err := Run(context.Background(), spec, Stdio{Stdin: endless{}, Stdout: &out})
	if err != nil || code != 0 || strings.TrimSpace(out.String()) != "alive" {
		t.Errorf("Run of a container closing its stdin = %d, %v, printed %q, want 0 and alive", code, err, out.String())
	}
}

// endless is an input that never ends: yes(1).
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'y'
	}
	return len(p), nil
}

// TestRunForwardsWinchWithoutTerminal: without -t, SIGWINCH goes on to the container as any
// other signal, as docker run's proxy passes it; strata kept it to resize a terminal there
// was none of. (The test binary ignores SIGWINCH unless Run catches it.)
func TestRunForwardsWinchWithoutTerminal(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	spec := testSpec(t, "sh", "-c", "trap 'echo got-winch; exit 7' WINCH; trap 'exit 8' TERM; echo ready; while true; do sleep 0.05; done")
	out, done := runUntilReady(t, spec)
	if err := syscall.Kill(os.Getpid(), syscall.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.code != 7 || !strings.Contains(out.String(), "got-winch") {
			t.Errorf("Run after SIGWINCH = %d, %v, printed %q, want 7 and got-winch", r.code, r.err, out.String())
		}
	case <-time.After(5 * time.Second):
		t.Errorf("the container did not get SIGWINCH within 5 s")
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM) // ends it (exit 8): Run forwards that one
		<-done
	}
}

// TestRunCwdInCgroupfs: a working directory in the cgroup tree is entered on the cgroup
// filesystem mounted there, as with docker (runc makes and enters it once every mount is
// made): one of a v1 controller started ("mkdir /sys/fs/cgroup/memory: no such file or
// directory", made before that filesystem was mounted), and /sys/fs/cgroup itself was the
// empty sysfs dir beneath the mount. A missing one is not made on the read-only filesystem.
func TestRunCwdInCgroupfs(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	cwd := "/sys/fs/cgroup"
	if entries, err := os.ReadDir(cwd); err == nil {
		for _, e := range entries {
			if fi, err := os.Lstat(filepath.Join(cwd, e.Name())); err == nil && fi.IsDir() && e.Name() != "unified" {
				cwd = filepath.Join(cwd, e.Name()) // a v1 controller (or hybrid's)
				break
			}
		}
	}
	spec := testSpec(t, "sh", "-c", "pwd; ls | grep -c '^cgroup.procs$'")
	spec.Cwd = cwd
	if out := mustRun(t, spec); out != cwd+"\n1" {
		t.Errorf("Run(-w %s, pwd; ls) = %q, want %q and the cgroup's files", cwd, out, cwd+"\n1")
	}

	spec = testSpec(t, "true")
	spec.Cwd = cwd + "/strata-missing"
	if code, _, _, err := runOut(t, spec); err == nil || !strings.Contains(err.Error(), "read-only file system") {
		t.Errorf("Run(-w %s) = %d, %v, want the read-only cgroup filesystem's error", spec.Cwd, code, err)
	}
}

// TestRunCwdSymlinkInCgroupfs: a working directory that is an image's symlink into the cgroup
// tree (a WORKDIR /cg, /cg -> /sys/fs/cgroup/memory) is made and entered once the cgroup
// filesystems are mounted, as docker's runc makes it after every mount, following the
// image's links inside the root: it failed to start ("mkdir /cg: no such file or
// directory", looked for in sysfs beneath the cgroup mounts). A link that climbs above the
// root stays in it; a missing dir under it is not made on the read-only filesystem.
func TestRunCwdSymlinkInCgroupfs(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	cg := ""
	if entries, err := os.ReadDir("/sys/fs/cgroup"); err == nil {
		for _, e := range entries {
			if fi, err := os.Lstat(filepath.Join("/sys/fs/cgroup", e.Name())); err == nil && fi.IsDir() && e.Name() != "unified" {
				cg = e.Name() // a v1 controller (or hybrid's)
				break
			}
		}
	}
	if cg == "" {
		t.Skip("no v1 controller under /sys/fs/cgroup: the cgroup tree is one filesystem, mounted where sysfs has its dir")
	}
	for _, link := range []string{"/sys/fs/cgroup/" + cg, "../../../../sys/fs/cgroup/" + cg} {
		spec := testSpec(t, "sh", "-c", "pwd -P; ls | grep -c '^cgroup.procs$'")
		if err := os.Symlink(link, filepath.Join(spec.Dir, "upper", "cg")); err != nil {
			t.Fatal(err)
		}
		spec.Cwd = "/cg"
		code, out, errOut, err := runOut(t, spec)
		if want := "/sys/fs/cgroup/" + cg + "\n1\n"; err != nil || code != 0 || out != want {
			t.Errorf("Run(-w /cg, /cg -> %s) = %d, %v, %q (stderr %q), want %q: the cgroup's dir and files", link, code, err, out, errOut, want)
		}

		spec = testSpec(t, "true")
		if err := os.Symlink(link, filepath.Join(spec.Dir, "upper", "cg")); err != nil {
			t.Fatal(err)
		}
		spec.Cwd = "/cg/strata-missing"
		if code, _, _, err := runOut(t, spec); err == nil || !strings.Contains(err.Error(), "read-only file system") {
			t.Errorf("Run(-w %s, /cg -> %s) = %d, %v, want the read-only cgroup filesystem's error", spec.Cwd, link, code, err)
		}
	}
}
