package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLogsAsDocker: logs of real containers as docker's json-file logs: -f follows a running
// container until it exits and returns on an exited one; a 10 MB line without a newline, NUL,
// \r and invalid UTF-8 (U+FFFD, as json-file stores it) come through; stdout and stderr stay
// apart; --since/--until take durations, Unix and RFC 3339 times; a created container has
// none, and a --rm one that is gone is no such container.
func TestLogsAsDocker(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	mustStrata(t, root, "--registry-mirror", "http://"+reg.Host, "pull", "alpine")

	// -f on a running container: everything, and it returns when the container exits.
	// It ends once /tmp/end is there, made once logs -f follows.
	slow := detached(t, root, "--name", "slow", "alpine", "sh", "-c", "echo start; echo err >&2; until [ -e /tmp/end ]; do sleep 0.02; done; echo end")
	follow := exec.Command(strataBin, "--root", root, "logs", "-f", "slow")
	var stdout, stderr bytes.Buffer
	follow.Stdout, follow.Stderr = &stdout, &stderr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	waitWaiting(t, root, slow, follow.Process.Pid) // it follows the running container
	mustStrata(t, root, "exec", "slow", "touch", "/tmp/end")
	begin := time.Now()
	if err := follow.Wait(); err != nil || stdout.String() != "start\nend\n" || stderr.String() != "err\n" {
		t.Errorf("logs -f = %v, %q / %q, want start,end / err", err, stdout.String(), stderr.String())
	}
	if d := time.Since(begin); d > 30*time.Second {
		t.Errorf("logs -f took %v to return after the container exited", d)
	}
	// -f on the exited container prints and returns.
	if r := mustStrata(t, root, "logs", "-f", "--tail", "1", "slow"); r.Stdout != "end\n" || r.Stderr != "" {
		t.Errorf("logs -f --tail 1 of an exited container = %q / %q, want end", r.Stdout, r.Stderr)
	}

	const big = 10 << 20
	id := detached(t, root, "--name", "bytes", "alpine", "sh", "-c",
		fmt.Sprintf(`printf 'a\000b\r\n\377\n'; head -c %d /dev/zero | tr '\000' x`, big))
	mustStrata(t, root, "wait", id)
	r := mustStrata(t, root, "logs", "bytes")
	if want := "a\x00b\r\n\uFFFD\n"; !strings.HasPrefix(r.Stdout, want) || len(r.Stdout) != len(want)+big ||
		strings.Trim(r.Stdout[len(want):], "x") != "" {
		t.Errorf("logs = %d bytes starting %q, want %q and %d x without a newline", len(r.Stdout), r.Stdout[:min(len(r.Stdout), 20)], want, big)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--since", "1h"}, "start\nend\n"},
		{[]string{"--since", strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)}, "start\nend\n"},
		{[]string{"--since", time.Now().Add(time.Hour).Format(time.RFC3339)}, ""},
		{[]string{"--until", "10m"}, ""},
		{[]string{"--until", time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)}, "start\nend\n"},
		{[]string{"--tail", "all"}, "start\nend\n"},
		{[]string{"--tail", "0"}, ""},
	} {
		if r := mustStrata(t, root, append(append([]string{"logs"}, tt.args...), "slow")...); r.Stdout != tt.want {
			t.Errorf("logs %q = %q, want %q", tt.args, r.Stdout, tt.want)
		}
	}
	r = mustStrata(t, root, "logs", "-t", "slow")
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z start\n`)
	if !stamp.MatchString(r.Stdout) {
		t.Errorf("logs -t = %q, want docker's RFC3339NanoFixed before each line", r.Stdout)
	}

	mustStrata(t, root, "create", "--name", "fresh", "alpine", "echo", "hi")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "fresh") })
	for _, args := range [][]string{{"logs", "fresh"}, {"logs", "-f", "fresh"}} {
		if r := mustStrata(t, root, args...); r.Stdout != "" || r.Stderr != "" {
			t.Errorf("%q of a created container = %q / %q, want nothing", args, r.Stdout, r.Stderr)
		}
	}

	mustStrata(t, root, "run", "--rm", "--name", "gone", "alpine", "true")
	if r := strata(t, root, "logs", "gone"); r.Code != 1 || !strings.Contains(r.Stderr, "no such container") {
		t.Errorf("logs of a removed --rm container = exit %d, %q; want 1 and no such container", r.Code, r.Stderr)
	}
}

// TestPsInspectAsDocker: ps's default table and STATUS words, and inspect's State, for a
// running and an exited container.
func TestPsInspectAsDocker(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	mustStrata(t, root, "--registry-mirror", "http://"+reg.Host, "pull", "alpine")
	up := detached(t, root, "--name", "up", "alpine", "sleep", "1000")
	done := detached(t, root, "--name", "done", "alpine", "sh", "-c", "exit 3")
	mustStrata(t, root, "wait", done)

	lines := strings.Split(strings.TrimSpace(mustStrata(t, root, "ps").Stdout), "\n")
	header := regexp.MustCompile(`^CONTAINER ID   IMAGE     COMMAND        CREATED\s+STATUS\s+PORTS     NAMES$`)
	row := regexp.MustCompile(`^` + up[:12] + `   alpine    "sleep 1000"   (Less than a second|\d+ seconds?) ago\s+Up (Less than a second|\d+ seconds?)\s+up$`)
	if len(lines) != 2 || !header.MatchString(lines[0]) || !row.MatchString(lines[1]) {
		t.Errorf("ps =\n%s\nwant docker's header and one row for up", strings.Join(lines, "\n"))
	}
	status := strings.TrimSpace(mustStrata(t, root, "ps", "-a", "--filter", "name=done", "--format", "{{.Status}}|{{.State}}|{{.Command}}").Stdout)
	if !regexp.MustCompile(`^Exited \(3\) (Less than a second|\d+ seconds?) ago\|exited\|"sh -c 'exit 3'"$`).MatchString(status) {
		t.Errorf("ps --format status of an exited container = %q", status)
	}
	if q := strings.Fields(mustStrata(t, root, "ps", "-aq").Stdout); len(q) != 2 || q[0] != done[:12] || q[1] != up[:12] {
		t.Errorf("ps -aq = %q, want done then up, 12 characters", q)
	}

	var got []struct {
		Name  string
		State struct {
			Status                string
			Running               bool
			Pid, ExitCode         int
			StartedAt, FinishedAt string
		}
	}
	out := mustStrata(t, root, "inspect", "up", "done").Stdout
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 {
		t.Fatalf("inspect up done = %q: %v", out, err)
	}
	u, d := got[0].State, got[1].State
	if got[0].Name != "/up" || u.Status != "running" || !u.Running || u.Pid <= 0 || u.FinishedAt != "0001-01-01T00:00:00Z" {
		t.Errorf("inspect of running = %+v", got[0])
	}
	if got[1].Name != "/done" || d.Status != "exited" || d.Running || d.Pid != 0 || d.ExitCode != 3 {
		t.Errorf("inspect of exited = %+v", got[1])
	}
	for _, s := range []string{u.StartedAt, d.StartedAt, d.FinishedAt} {
		if ts, err := time.Parse(time.RFC3339Nano, s); err != nil || time.Since(ts) > time.Hour {
			t.Errorf("inspect time %q: %v, want an RFC 3339 time of now", s, err)
		}
	}
}
