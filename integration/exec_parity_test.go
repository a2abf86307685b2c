package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testimages"
)

// busyboxRoot is a new root holding busybox:1.38.0-musl, loaded from the test images: no
// registry needed.
func busyboxRoot(t *testing.T) string {
	t.Helper()
	requiresContainers(t)
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	root := newRoot(t)
	mustStrata(t, root, "load", "-q", "-i", filepath.Join(td, "busybox", "busybox-1.38.0-musl-oci"))
	return root
}

// TestExecParityStatuses checks exec's exit statuses and messages against docker exec's:
// 127 and 126 with runc's words, the command's own status, 128+n after signal n, 126 for a
// working directory runc refuses, and a container that is not running.
func TestExecParityStatuses(t *testing.T) {
	root := busyboxRoot(t)
	upID := detached(t, root, "--name", "up", "busybox:1.38.0-musl", "sleep", "1000")
	mustStrata(t, root, "create", "--name", "created", "busybox:1.38.0-musl", "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "created") })
	mustStrata(t, root, "run", "--name", "exited", "busybox:1.38.0-musl", "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "exited") })

	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"up", "nosuch"}, 127, `exec: "nosuch": executable file not found in $PATH`},
		{[]string{"up", ""}, 127, `exec: "": executable file not found in $PATH`},
		{[]string{"up", "/nosuch/x"}, 127, "no such file or directory"},
		{[]string{"up", "/etc/passwd"}, 126, `exec: "/etc/passwd": permission denied`},
		{[]string{"up", "/etc"}, 126, `exec: "/etc": is a directory`},
		{[]string{"up", "sh", "-c", "exit 3"}, 3, ""},
		{[]string{"up", "sh", "-c", "exit 255"}, 255, ""},
		{[]string{"up", "sh", "-c", "kill -TERM $$"}, 128 + 15, ""},
		{[]string{"up", "sh", "-c", "kill -SEGV $$"}, 128 + 11, ""},
		{[]string{"-w", "tmp", "up", "pwd"}, 126, "cwd must be an absolute path"},
		{[]string{"-w", "/nosuch", "up", "pwd"}, 126, "changing to working directory /nosuch: no such file or directory"},
		// docker's daemon returns a detached command's failure to start as the API call's
		// error, which its CLI exits 1 for.
		{[]string{"-d", "up", "nosuch"}, 1, "executable file not found"},
		{[]string{"-d", "up", "/etc"}, 1, "is a directory"},
		{[]string{"-d", "-u", "nosuchuser", "up", "true"}, 1, "unable to find user nosuchuser"},
		{[]string{"-u", "nosuchuser", "up", "true"}, 126, "unable to find user nosuchuser"},
		// docker's daemon refuses these; its CLI exits 1 with the daemon's error.
		{[]string{"created", "true"}, 1, "is not running"},
		{[]string{"exited", "true"}, 1, "is not running"},
		{[]string{"nosuch", "true"}, 1, "nosuch"},
		// docker's CLI inspects the container before it checks the terminal: a missing
		// container is told as such, not as "the input device is not a TTY".
		{[]string{"-it", "nosuch", "sh"}, 1, "no such container"},
		{[]string{"-it", "up", "sh"}, 1, "the input device is not a TTY"}, // docker's CLI exits 1 here
	}
	for _, tt := range tests {
		r := strata(t, root, append([]string{"exec"}, tt.args...)...)
		stderr := strings.TrimSpace(r.Stderr)
		if r.Code != tt.wantCode || !strings.Contains(strings.ToLower(stderr), strings.ToLower(tt.wantErr)) {
			t.Errorf("exec %q = %d, stderr %q, want %d and %q", tt.args, r.Code, r.Stderr, tt.wantCode, tt.wantErr)
		}
		if tt.wantErr != "" && strings.Contains(stderr, "\n") {
			t.Errorf("exec %q: stderr %q, want one line", tt.args, r.Stderr)
		}
	}

	// A broken container: refused, its ID told once; exec with docker's 1 for what its daemon
	// refuses (no daemon would list it), enter with strata's 125.
	config := filepath.Join(root, "containers", upID, "config.json")
	saved, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		code int
	}{{[]string{"exec", upID, "true"}, 1}, {[]string{"enter", upID, "--", "true"}, 125}} {
		r := strata(t, root, tt.args...)
		if r.Code != tt.code || !strings.Contains(r.Stderr, "container is broken") || strings.Count(r.Stderr, upID[:12]) != 1 {
			t.Errorf("%s into a broken container = %d, stderr %q, want %d, broken, and its ID once", tt.args[0], r.Code, r.Stderr, tt.code)
		}
	}
	if err := os.WriteFile(config, saved, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestExecParityEnv: -e NAME takes the host's value, and unsets NAME in the command when the
// host has none, as docker's daemon merges an exec's environment; values keep newlines, and
// --env-file comes before -e.
func TestExecParityEnv(t *testing.T) {
	root := busyboxRoot(t)
	detached(t, root, "--name", "env", "-e", "IMG=set", "-e", "KEEP=1", "busybox:1.38.0-musl", "sleep", "1000")
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("A=1\nB\n# comment\nC=x y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := append(os.Environ(), "STRATA_REGISTRY_MIRROR=")
	tests := []struct {
		host []string
		args []string
		want string
	}{
		{nil, []string{"-e", "IMG", "env", "sh", "-c", `echo "${IMG-unset}|$KEEP"`}, "unset|1"},
		{[]string{"IMG=host"}, []string{"-e", "IMG", "env", "sh", "-c", `echo "${IMG-unset}|$KEEP"`}, "host|1"},
		{nil, []string{"-e", "IMG", "-e", "IMG=again", "env", "sh", "-c", `echo "${IMG-unset}"`}, "again"},
		{nil, []string{"-e", "NL=a\nb", "env", "sh", "-c", `printf '%s|' "$NL"`}, "a\nb|"},
		{[]string{"B=fromhost"}, []string{"--env-file", envFile, "-e", "A=2", "env", "sh", "-c", `echo "$A|$B|$C"`}, "2|fromhost|x y"},
	}
	for _, tt := range tests {
		var env []string
		for _, kv := range base {
			if !strings.HasPrefix(kv, "IMG=") && !strings.HasPrefix(kv, "B=") {
				env = append(env, kv)
			}
		}
		r := run(t, append(env, tt.host...), "", root, append([]string{"exec"}, tt.args...)...)
		if r.Code != 0 || strings.TrimSuffix(r.Stdout, "\n") != tt.want {
			t.Errorf("exec %q with host env %q = %d, %q (stderr %q), want %q", tt.args, tt.host, r.Code, r.Stdout, r.Stderr, tt.want)
		}
	}
}

// TestExecParityUser: -u reads the container's /etc/passwd and /etc/group as they are at exec
// time, adds the groups naming the user, takes numbers that are in neither; a hostile passwd
// (a FIFO, a link to procfs or out of the root, a huge file) neither hangs exec nor reads a
// host file.
func TestExecParityUser(t *testing.T) {
	root := busyboxRoot(t)
	detached(t, root, "--name", "uu", "busybox:1.38.0-musl", "sleep", "1000")
	mustStrata(t, root, "exec", "uu", "sh", "-c", `echo "u1:x:1500:1500::/home/u1:/bin/sh" >> /etc/passwd &&
		printf 'u1:x:1500:\ng1:x:1600:u1\ng2:x:1700:other,u1\n' >> /etc/group && cp /etc/passwd /etc/passwd.orig`)
	for _, tt := range []struct{ user, want string }{
		{"u1", "uid=1500(u1) gid=1500(u1) groups=1500(u1),1600(g1),1700(g2)"},
		{"u1:g1", "uid=1500(u1) gid=1600(g1) groups=1600(g1)"},
		{"1500", "uid=1500(u1) gid=1500(u1) groups=1500(u1),1600(g1),1700(g2)"},
		{"1234:5678", "uid=1234 gid=5678 groups=5678"},
	} {
		r := strata(t, root, "exec", "-u", tt.user, "uu", "id")
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != tt.want {
			t.Errorf("exec -u %s id = %d, %q (stderr %q), want %q", tt.user, r.Code, r.Stdout, r.Stderr, tt.want)
		}
	}
	if r := strata(t, root, "exec", "-u", "u1", "uu", "sh", "-c", "echo $HOME"); strings.TrimSpace(r.Stdout) != "/home/u1" {
		t.Errorf("exec -u u1 echo $HOME = %q, want /home/u1", r.Stdout)
	}

	hostile := []struct{ name, setup string }{
		{"fifo", "mkfifo /etc/passwd"},
		{"procfs link", "ln -s /proc/1/environ /etc/passwd"},
		{"kmsg link", "ln -s /proc/kmsg /etc/passwd"},
		{"link out of the root", "ln -s ../../../../../../../../etc/shadow /etc/passwd"},
		{"huge", "dd if=/dev/zero of=/etc/passwd bs=1M count=0 seek=2000 2>/dev/null"},
	}
	for _, h := range hostile {
		mustStrata(t, root, "exec", "uu", "sh", "-c", "rm -f /etc/passwd && "+h.setup)
		start := time.Now()
		r := strata(t, root, "exec", "-u", "nobody", "uu", "true")
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("%s passwd: exec -u nobody took %v", h.name, took)
		}
		if r.Code != 126 || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 || !strings.Contains(r.Stderr, "setting user") {
			t.Errorf("%s passwd: exec -u nobody = %d, stderr %q, want 126 and one line on the user", h.name, r.Code, r.Stderr)
		}
		// A number needs no passwd entry: exec goes on, as docker's does (not past a huge
		// passwd, which ResolveUser reads and refuses even for a number).
		if h.name != "huge" {
			if r := strata(t, root, "exec", "-u", "0", "uu", "true"); r.Code != 0 {
				t.Errorf("%s passwd: exec -u 0 = %d, stderr %q, want 0", h.name, r.Code, r.Stderr)
			}
		}
	}
}

// TestExecParityWorkdir: -w through symlinks, including ones aiming out of the root or at
// /proc/1/root, ends inside the container's root.
func TestExecParityWorkdir(t *testing.T) {
	root := busyboxRoot(t)
	detached(t, root, "--name", "ww", "busybox:1.38.0-musl", "sleep", "1000")
	mustStrata(t, root, "exec", "ww", "sh", "-c", "mkdir /x && touch /inside && ln -s ../../../../../../ /x/up && ln -s /proc/1/root /x/pr")
	for _, dir := range []string{"/x/up", "/x/pr", "/proc/1/root/x/up", "/proc/1/cwd"} {
		r := strata(t, root, "exec", "-w", dir, "ww", "sh", "-c", "pwd; ls -d inside")
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != "/\ninside" {
			t.Errorf("exec -w %s = %d, %q (stderr %q), want the container's root", dir, r.Code, r.Stdout, r.Stderr)
		}
	}
}

// TestExecParityConfinement compares the exec'd command with the container's PID 1 from
// inside: capabilities, no_new_privs, seccomp, rlimits and cgroups the same, and no fd
// beyond its stdio, with or without a terminal or -i.
func TestExecParityConfinement(t *testing.T) {
	root := busyboxRoot(t)
	detached(t, root, "--name", "cc", "--ulimit", "nofile=512:1024", "--cap-drop", "NET_RAW", "busybox:1.38.0-musl", "sleep", "1000")
	r := strata(t, root, "exec", "cc", "sh", "-c", `
		f='^(Cap|NoNewPrivs|Seccomp)'
		grep -E "$f" /proc/1/status > /tmp/a; grep -E "$f" /proc/self/status > /tmp/b
		diff /tmp/a /tmp/b >&2 || echo status-differs
		cat /proc/1/limits > /tmp/a; cat /proc/self/limits > /tmp/b; diff /tmp/a /tmp/b >&2 || echo limits-differ
		cat /proc/1/cgroup > /tmp/a; cat /proc/self/cgroup > /tmp/b; diff /tmp/a /tmp/b >&2 || echo cgroups-differ
		grep -q "^Seccomp:[[:space:]]*2" /proc/self/status || echo no-seccomp
		echo done`)
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "done" {
		t.Errorf("exec compared with PID 1: %d, %q, stderr %q, want done", r.Code, r.Stdout, r.Stderr)
	}
	// --privileged: every capability, as docker's, but the container's filter and
	// no_new_privs stay, resolved against the container's own capabilities: mount, which
	// Docker's profile allows only with CAP_SYS_ADMIN, stays refused.
	r = strata(t, root, "exec", "--privileged", "cc", "sh", "-c", `
		grep -E "^(NoNewPrivs|Seccomp)" /proc/1/status > /tmp/a; grep -E "^(NoNewPrivs|Seccomp)" /proc/self/status > /tmp/b
		diff /tmp/a /tmp/b >&2 || echo filter-differs
		[ "$(grep CapEff /proc/self/status)" != "$(grep CapEff /proc/1/status)" ] || echo same-caps
		mkdir -p /tmp/m; mount -t tmpfs t /tmp/m 2>/dev/null && echo mounted
		echo done`)
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "done" {
		t.Errorf("exec --privileged: %d, %q, stderr %q, want done", r.Code, r.Stdout, r.Stderr)
	}

	// oom_score_adj: PID 1's, whatever strata exec had.
	pid1, err := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", containerPid(t, root, "cc")))
	if err != nil {
		t.Fatal(err)
	}
	want, other := strings.TrimSpace(string(pid1)), "500"
	if want == other {
		other = "400"
	}
	out, err := exec.Command("sh", "-c", `echo "$1" > /proc/self/oom_score_adj && shift && exec "$@"`, "sh", other,
		strataBin, "--root", root, "exec", "cc", "cat", "/proc/self/oom_score_adj").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("exec from a strata with oom_score_adj %s: the command has %q, %v, want PID 1's %s", other, out, err, want)
	}

	// Resource limits: PID 1's, whatever the shell strata exec was started from had; a hard
	// limit below PID 1's, which only CAP_SYS_RESOURCE may raise, is kept where strata lacks
	// it, and the exec still runs.
	out, err = exec.Command("sh", "-c", `ulimit -Sn 256 && ulimit -Ss 1024 && ulimit -Sc 0 && exec "$@"`, "sh",
		strataBin, "--root", root, "exec", "cc", "sh", "-c", `cat /proc/1/limits > /tmp/a; cat /proc/self/limits > /tmp/b; diff /tmp/a /tmp/b && echo same`).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "same" {
		t.Errorf("exec from a shell with lower soft limits: %v, limits differ from PID 1's:\n%s", err, out)
	}
	out, err = exec.Command("sh", "-c", `ulimit -s 4096 && exec "$@"`, "sh",
		strataBin, "--root", root, "exec", "cc", "sh", "-c", `ulimit -Hs`).CombinedOutput()
	if got := strings.TrimSpace(string(out)); err != nil || got != "4096" && got != "unlimited" {
		t.Errorf("exec from a shell with a lower hard stack limit = %q, %v, want it to run, with 4096 or PID 1's unlimited", got, err)
	}

	// fds: ls lists the shell's, and so not the directory fd it reads them through. No
	// pipeline, whose pipes the shell would hold for a moment, and a last command that keeps
	// the shell from exec'ing ls in its place.
	list := `ls --color=never /proc/$$/fd; true`
	for _, args := range [][]string{{"cc"}, {"-d", "cc"}, {"-t", "cc"}, {"-u", "nobody", "cc"}} {
		if args[0] == "-d" {
			mustStrata(t, root, "exec", "-d", "cc", "sh", "-c", "exec >/tmp/fds; "+list)
			r = mustStrata(t, root, "exec", "cc", "sh", "-c", "while [ ! -s /tmp/fds ]; do sleep 0.05; done; cat /tmp/fds")
		} else {
			r = strata(t, root, append(append([]string{"exec"}, args...), "sh", "-c", list)...)
		}
		if got := strings.Join(strings.Fields(r.Stdout), " "); got != "0 1 2" {
			t.Errorf("exec %q: fds %q (stderr %q), want only 0 1 2", args, got, r.Stderr)
		}
	}
}

// TestExecParityContainerGone: an exec'd command dies with its container (137, as docker's),
// many execs run at once, and exec racing `rm -f` ends 0, 125 or 137.
func TestExecParityContainerGone(t *testing.T) {
	root := busyboxRoot(t)
	id := detached(t, root, "--name", "gg", "busybox:1.38.0-musl", "sleep", "1000")

	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := exec.Command(strataBin, "--root", root, "exec", "gg", "sh", "-c", fmt.Sprintf("echo %d", i)).Output()
			if err != nil || strings.TrimSpace(string(out)) != fmt.Sprint(i) {
				errs <- fmt.Sprintf("concurrent exec %d = %q, %v", i, out, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	long := exec.CommandContext(ctx, strataBin, "--root", root, "exec", "gg", "sh", "-c", `trap "" TERM HUP; echo ready; sleep 1000`)
	out, err := long.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("exec printed %q, %v, want ready", buf, err)
	}
	mustStrata(t, root, "kill", "gg")
	_ = long.Wait()
	if code := long.ProcessState.ExitCode(); code != 137 {
		t.Errorf("exec whose container was killed = %d, want 137", code)
	}
	strata(t, root, "rm", "-f", id)

	for n := range 4 {
		name := fmt.Sprintf("race%d", n)
		raced := detached(t, root, "--name", name, "busybox:1.38.0-musl", "sleep", "1000")
		codes := make(chan result, 5)
		for range 5 {
			go func() { codes <- strata(t, root, "exec", name, "sh", "-c", "sleep 2") }()
		}
		time.Sleep(time.Duration(n*40) * time.Millisecond)
		mustStrata(t, root, "rm", "-f", name)
		for range 5 {
			r := <-codes
			if r.Code != 0 && r.Code != 137 && (r.Code != 1 || !strings.Contains(r.Stderr, "not running") && !strings.Contains(r.Stderr, "no such container")) {
				t.Errorf("exec racing rm -f = %d, stderr %q, want 0, 137 or 1 'not running'", r.Code, r.Stderr)
			}
		}
		// A helper that joined the cgroup as rm -f removed it would have kept it.
		if left, _ := filepath.Glob("/sys/fs/cgroup/*/strata/" + raced); len(left) > 0 {
			t.Errorf("cgroups left after exec raced rm -f: %q", left)
		}
		if left, _ := filepath.Glob("/sys/fs/cgroup/strata/" + raced); len(left) > 0 {
			t.Errorf("cgroups left after exec raced rm -f: %q", left)
		}
	}
}
