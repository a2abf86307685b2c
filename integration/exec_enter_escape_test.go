package integration

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestExecThroughEnteredToolRoot: a host tool that `strata enter --ns pid` runs has a pid in
// the container's pid namespace, and its /proc/<pid>/root and cwd there are the host's. exec's
// helper, root with every capability inside the container until it drops them, followed them:
// `exec -w /proc/<pid>/root` (or a link the container put where its WORKDIR is) gave the
// command the host's / as its working directory, and a container's /etc/passwd linked there
// was read from the host. Both are refused now, as runc's verifyCwd refuses a working
// directory outside the root (CVE-2024-21626).
func TestExecThroughEnteredToolRoot(t *testing.T) {
	root := busyboxRoot(t)
	detached(t, root, "--name", "esc", "-w", "/app", "busybox:1.38.0-musl", "sleep", "1000")
	marker := filepath.Join(t.TempDir(), "host-marker")
	if err := os.WriteFile(marker, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	enter := exec.CommandContext(ctx, strataBin, "--root", root, "enter", "--ns", "pid", "esc", "--",
		"sh", "-c", `echo ready; exec sleep 120`)
	out, err := enter.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := enter.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = enter.Process.Signal(syscall.SIGTERM) // passed on to the tool
		_ = enter.Wait()
	}()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("enter printed %q, %v, want ready", line, err)
	}
	tool := childOf(t, childOf(t, enter.Process.Pid)) // strata, its helper, the tool
	pid := nsPid(t, tool)

	check := func(what string, args ...string) {
		t.Helper()
		r := strata(t, root, append([]string{"exec"}, args...)...)
		if r.Code != 126 || !strings.Contains(r.Stderr, "outside the container's root") || strings.Contains(r.Stdout, "host") {
			t.Errorf("%s: exec %q = %d, stdout %q, stderr %q, want 126 and the working directory refused", what, args, r.Code, r.Stdout, r.Stderr)
		}
	}
	rel := strings.TrimPrefix(marker, "/")
	check("-w into the tool's root", "-w", "/proc/"+pid+"/root", "esc", "cat", rel)
	check("-w into the tool's cwd", "-w", "/proc/"+pid+"/cwd", "esc", "pwd")
	mustStrata(t, root, "exec", "esc", "sh", "-c", "rmdir /app && ln -s /proc/"+pid+"/root /app")
	check("WORKDIR linked to the tool's root", "esc", "cat", rel)
	mustStrata(t, root, "exec", "-w", "/", "esc", "sh", "-c", "rm /app && mkdir /app")

	// /etc/passwd linked to the host's: a name only the host has stays unknown.
	name := hostOnlyUser(t, root)
	if name == "" {
		t.Log("no host user the container lacks: passwd case skipped")
		return
	}
	mustStrata(t, root, "exec", "esc", "sh", "-c", "mv /etc/passwd /etc/passwd.orig && ln -s /proc/"+pid+"/root/etc/passwd /etc/passwd")
	r := strata(t, root, "exec", "-u", name, "esc", "true")
	if r.Code != 126 || !strings.Contains(r.Stderr, "unable to find user") {
		t.Errorf("exec -u %s (a host user) with /etc/passwd linked to the host's = %d, stderr %q, want 126 and an unknown user", name, r.Code, r.Stderr)
	}
	mustStrata(t, root, "exec", "esc", "sh", "-c", "rm /etc/passwd && mv /etc/passwd.orig /etc/passwd")
}

// nsPid is host process pid's pid in its own pid namespace (the last of NSpid).
func nsPid(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "NSpid:" {
			return f[len(f)-1]
		}
	}
	t.Fatalf("no NSpid for %d", pid)
	return ""
}

// hostOnlyUser is a user name in the host's /etc/passwd that the container's lacks, or "".
func hostOnlyUser(t *testing.T, root string) string {
	t.Helper()
	host, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return ""
	}
	inside := map[string]bool{}
	for _, l := range strings.Split(mustStrata(t, root, "exec", "esc", "cat", "/etc/passwd").Stdout, "\n") {
		inside[strings.Split(l, ":")[0]] = true
	}
	for _, l := range strings.Split(string(host), "\n") {
		if n := strings.Split(l, ":")[0]; n != "" && !strings.HasPrefix(n, "#") && !inside[n] {
			return n
		}
	}
	return ""
}
