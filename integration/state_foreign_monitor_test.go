package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procStart is pid's start time, /proc/PID/stat field 22, as state.json records a monitor's.
func procStart(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	n, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStateNamesOtherStrataProcess: a hand-made or damaged state.json that names a live strata
// process as the container's monitor, with its true start time, when that process is not its
// monitor (a `strata events` following the log, another container's monitor) is stale: start
// starts the container, wait returns 255 for a container recorded as exiting, stop returns.
// Any strata binary was believed, and start, wait and stop waited for that process to end.
func TestStateNamesOtherStrataProcess(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	t.Cleanup(func() { strata(t, root, "rm", "-f", "victim", "neighbour") })
	events := exec.Command(strataBin, "--root", root, "events")
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = events.Process.Kill(); _ = events.Wait() }) // ours, started here
	neighbour := detached(t, root, "--name", "neighbour", img, "sleep", "600")
	neighbourMonitor := readState(t, filepath.Join(root, "containers", neighbour)).MonitorPid

	mustStrata(t, root, "create", "--name", "victim", img, "true")
	dir := filepath.Join(root, "containers", containerID(t, root, "victim"))
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	forge := func(status string, pid, monitor int) {
		t.Helper()
		b, err := json.Marshal(map[string]any{"status": status, "pid": pid, "monitorPid": monitor, "monitorStart": procStart(t, monitor), "exitCode": 0})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "state.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Each command must end well before the process it names does (never, here).
	bounded := func(args ...string) result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, strataBin, append([]string{"--root", root}, args...)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ctx.Err() != nil {
			t.Fatalf("strata %s hung on a state naming another strata process", strings.Join(args, " "))
		}
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return result{code, stdout.String(), stderr.String()}
	}

	for _, m := range []struct {
		what string
		pid  int
	}{{"strata events", events.Process.Pid}, {"another container's monitor", neighbourMonitor}} {
		forge("running", gone.Process.Pid, m.pid)
		if r := bounded("wait", "victim"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "255" {
			t.Errorf("wait of a container whose state names %s as its exiting monitor = %d %q %q, want 255", m.what, r.Code, r.Stdout, r.Stderr)
		}
		forge("running", gone.Process.Pid, m.pid)
		if r := bounded("stop", "victim"); r.Code != 0 {
			t.Errorf("stop of a container whose state names %s as its exiting monitor = %d %q", m.what, r.Code, r.Stderr)
		}
		forge("created", 0, m.pid)
		if r := bounded("start", "victim"); r.Code != 0 {
			t.Errorf("start of a container whose state names %s as the monitor starting it = %d %q", m.what, r.Code, r.Stderr)
		}
		if r := bounded("wait", "victim"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "0" {
			t.Errorf("wait after start = %d %q %q, want 0", r.Code, r.Stdout, r.Stderr)
		}
	}
	if !alive(events.Process.Pid) || !alive(neighbourMonitor) {
		t.Errorf("a process named in the forged states is gone")
	}
}
