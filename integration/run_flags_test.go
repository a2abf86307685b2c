package integration

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestRunNetworkFlags: the container's network namespace as docker makes it for --network
// none (the default here: strata has no bridge; only lo, and up) and --network host (the
// host's own namespace), through the binary as a user runs it.
func TestRunNetworkFlags(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	host, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{}, {"--network", "none"}, {"--net=none"}} {
		r := mustStrata(t, root, append(append([]string{"run", "--rm"}, args...), img, "sh", "-c",
			"readlink /proc/self/ns/net; ls /sys/class/net; cat /sys/class/net/lo/flags")...)
		f := strings.Fields(r.Stdout)
		// lo's flags: IFF_UP (0x1) set.
		if len(f) != 3 || f[0] == host || f[1] != "lo" || !strings.HasPrefix(f[2], "0x") || !strings.HasSuffix(f[2], "9") {
			t.Errorf("run %v: netns, interfaces, lo flags = %q; want a netns of its own (host %s) with lo alone, up", args, r.Stdout, host)
		}
	}
	r := mustStrata(t, root, "run", "--rm", "--network", "host", img, "readlink", "/proc/self/ns/net")
	if got := strings.TrimSpace(r.Stdout); got != host {
		t.Errorf("run --network host: netns %q, want the host's %q", got, host)
	}
}

// TestRunSeccompFlag: a container runs under docker's default seccomp filter (mode 2 in
// /proc/self/status), and without one with --security-opt seccomp=unconfined or --privileged,
// as docker runs them.
func TestRunSeccompFlag(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "2"},
		{[]string{"--security-opt", "seccomp=unconfined"}, "0"},
		{[]string{"--security-opt=seccomp:unconfined"}, "0"},
		{[]string{"--privileged"}, "0"},
	} {
		r := mustStrata(t, root, append(append([]string{"run", "--rm"}, tt.args...), img, "sh", "-c", "grep '^Seccomp:' /proc/self/status")...)
		if f := strings.Fields(r.Stdout); len(f) != 2 || f[1] != tt.want {
			t.Errorf("run %v: %q, want Seccomp: %s", tt.args, r.Stdout, tt.want)
		}
	}
}

// TestRunTerminalResize plays a user at a terminal: `run -it` gives the container a pty of
// the user's terminal's size, and a resize of the user's terminal reaches the container (its
// shell gets SIGWINCH and reads the new size), as docker run -it resizes its tty.
func TestRunTerminalResize(t *testing.T) {
	root := busyboxRoot(t)
	user, tty, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pty on this machine: %v", err)
	}
	defer user.Close()
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 24, Cols: 80}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	script := `stty size; trap 'stty size; exit 3' WINCH; echo ready; while :; do sleep 0.05; done`
	// Named, so that a failure, which kills strata, does not leave its container running.
	t.Cleanup(func() { strata(t, root, "rm", "-f", "resize") })
	cmd := exec.CommandContext(ctx, strataBin, "--root", root, "run", "-it", "--rm", "--name", "resize", "busybox:1.38.0-musl", "sh", "-c", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	// The user's shell makes strata the foreground of the terminal: the kernel signals a
	// resize to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(user)
		for sc.Scan() {
			lines <- strings.TrimSpace(sc.Text())
		}
		close(lines)
	}()
	var seen []string
	next := func(want string) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the terminal closed before %q; it showed %q", want, seen)
				}
				seen = append(seen, l)
				if l == want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %q on the terminal; it showed %q", want, seen)
			}
		}
	}
	next("24 80")
	next("ready")
	if err := pty.Setsize(user, &pty.Winsize{Rows: 40, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	next("40 100")
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Errorf("run -it after the resize: %v, want exit 3 from the container's trap", err)
	}
}

// TestRunDomainname: --domainname is the container's NIS domain name, in its own UTS
// namespace (with --network host too, as docker's), shown in inspect's Config.Domainname, and
// the host's stays as it was; it was an unknown flag. In the host's UTS namespace it is
// refused, as runc refuses it.
func TestRunDomainname(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	hostDomain, err := os.ReadFile("/proc/sys/kernel/domainname")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { strata(t, root, "rm", "-f", "dn") })
	for _, net := range []string{"none", "host"} {
		r := mustStrata(t, root, "run", "--rm", "--network", net, "--domainname", "example.org", img, "cat", "/proc/sys/kernel/domainname")
		if r.Stdout != "example.org\n" {
			t.Errorf("run --network %s --domainname example.org: domainname %q", net, r.Stdout)
		}
	}
	mustStrata(t, root, "create", "--name", "dn", "--domainname", "corp.example", img, "true")
	if r := mustStrata(t, root, "inspect", "-f", "{{.Config.Domainname}}", "dn"); r.Stdout != "corp.example\n" {
		t.Errorf("inspect Config.Domainname = %q, want corp.example", r.Stdout)
	}
	if now, _ := os.ReadFile("/proc/sys/kernel/domainname"); string(now) != string(hostDomain) {
		t.Errorf("the host's domainname is %q after the runs, was %q", now, hostDomain)
	}
	if r := strata(t, root, "run", "--rm", "--uts", "host", "--domainname", "x", img, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "conflicting options: domainname and the UTS mode") {
		t.Errorf("run --uts host --domainname x = exit %d, %q; want 125 and the conflict", r.Code, r.Stderr)
	}
}
