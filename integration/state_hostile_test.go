package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// containerID returns the full ID of the container named name in root.
func containerID(t *testing.T, root, name string) string {
	t.Helper()
	id := strings.TrimSpace(mustStrata(t, root, "ps", "-aq", "--no-trunc", "-f", "name=^"+name+"$").Stdout)
	if len(id) != 64 {
		t.Fatalf("ps -f name=%s: %q, want one 64-hex ID", name, id)
	}
	return id
}

// psLine returns the line of `ps -a` that names name, or "".
func psLine(t *testing.T, root, name string, args ...string) string {
	t.Helper()
	out := mustStrata(t, root, append([]string{"ps"}, args...)...).Stdout
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == name {
			return line
		}
	}
	return ""
}

// readState reads a container's state.json as strata wrote it.
func readState(t *testing.T, dir string) (st struct {
	Status     string `json:"status"`
	Pid        int    `json:"pid"`
	MonitorPid int    `json:"monitorPid"`
}) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// alive reports whether pid is a live process (not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && !strings.HasPrefix(string(b[i+1:]), " Z")
}

// gone waits up to 10s for pid to end.
func gone(pid int) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !alive(pid) {
			return true
		}
	}
	return false
}

// TestStateHostile damages container dirs as power loss, hand edits and a killed strata do,
// and checks that ps -a shows each container (a broken one as Dead), that rm removes it by
// name or ID, and that the lifecycle commands answer sensibly in every state.
func TestStateHostile(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	names := []string{"sh-corrupt", "sh-nocfg", "sh-half", "sh-killed", "sh-log", "sh-created", "sh-live", "sh-copy"}
	t.Cleanup(func() { strata(t, root, append([]string{"rm", "-f"}, names...)...) })
	cdir := func(id string) string { return filepath.Join(root, "containers", id) }

	t.Run("corrupt config", func(t *testing.T) {
		mustStrata(t, root, "run", "--name", "sh-corrupt", "alpine", "true")
		id := containerID(t, root, "sh-corrupt")
		if err := os.WriteFile(filepath.Join(cdir(id), "config.json"), []byte(`{"spec": {"ar`), 0o600); err != nil {
			t.Fatal(err)
		}
		if line := psLine(t, root, "sh-corrupt", "-a"); !strings.Contains(line, "Dead") {
			t.Errorf("ps -a line of a container with a truncated config = %q, want it Dead", line)
		}
		// start's failures exit 1, as docker start's do (it was 125).
		if r := strata(t, root, "start", "sh-corrupt"); r.Code != 1 || !strings.Contains(r.Stderr, "broken") {
			t.Errorf("start broken = %d %q, want 1 and 'broken'", r.Code, r.Stderr)
		}
		if r := strata(t, root, "rename", "sh-corrupt", "other"); r.Code == 0 {
			t.Errorf("rename broken succeeded")
		}
		if r := strata(t, root, "run", "--name", "sh-corrupt", "alpine", "true"); r.Code != 125 || !strings.Contains(r.Stderr, "already in use") {
			t.Errorf("run --name of the broken one's name = %d %q, want 125 name in use", r.Code, r.Stderr)
		}
		if r := strata(t, root, "inspect", "-f", "{{.State.Status}}", "sh-corrupt"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "dead" {
			t.Errorf("inspect broken = %d %q %q, want dead", r.Code, r.Stdout, r.Stderr)
		}
		mustStrata(t, root, "rm", "sh-corrupt")
		if _, err := os.Lstat(cdir(id)); !os.IsNotExist(err) {
			t.Errorf("container dir after rm: %v, want gone", err)
		}
		mustStrata(t, root, "run", "--rm", "--name", "sh-corrupt", "alpine", "true")
	})

	t.Run("running without config", func(t *testing.T) {
		mustStrata(t, root, "run", "-d", "--name", "sh-nocfg", "alpine", "sleep", "600")
		id := containerID(t, root, "sh-nocfg")
		st := readState(t, cdir(id))
		pid := st.Pid
		t.Cleanup(func() {
			// Should rm -f fail: its monitor is the one our run -d started, and the
			// container dies with it.
			if alive(pid) {
				_ = syscall.Kill(st.MonitorPid, syscall.SIGKILL)
			}
		})
		if err := os.Remove(filepath.Join(cdir(id), "config.json")); err != nil {
			t.Fatal(err)
		}
		if line := psLine(t, root, "sh-nocfg"); !strings.Contains(line, "Dead") {
			t.Errorf("ps line of a running container without config = %q, want it listed Dead", line)
		}
		if r := strata(t, root, "rm", "sh-nocfg"); r.Code == 0 || !alive(pid) {
			t.Errorf("rm (no -f) of a running broken container = %d, container alive %v; want refused", r.Code, alive(pid))
		}
		mustStrata(t, root, "rm", "-f", "sh-nocfg")
		if !gone(pid) {
			t.Errorf("container PID 1 %d outlived rm -f", pid)
		}
		if _, err := os.Lstat(cdir(id)); !os.IsNotExist(err) {
			t.Errorf("container dir after rm -f: %v, want gone", err)
		}
	})

	t.Run("rm killed half-way", func(t *testing.T) {
		mustStrata(t, root, "run", "--name", "sh-half", "alpine", "true")
		id := containerID(t, root, "sh-half")
		for _, f := range []string{"state.json", "config.json", "lock"} {
			_ = os.Remove(filepath.Join(cdir(id), f))
		}
		if line := psLine(t, root, "sh-half", "-a"); line == "" {
			t.Errorf("ps -a does not list the half-removed container")
		}
		mustStrata(t, root, "rm", "-f", id[:12])
		if _, err := os.Lstat(cdir(id)); !os.IsNotExist(err) {
			t.Errorf("container dir after rm -f: %v, want gone", err)
		}
	})

	t.Run("entry is a symlink to /", func(t *testing.T) {
		id := strings.Repeat("5e", 32)
		if err := os.Symlink("/", cdir(id)); err != nil {
			t.Fatal(err)
		}
		if out := mustStrata(t, root, "ps", "-a", "--no-trunc").Stdout; !strings.Contains(out, id) || !strings.Contains(out, "Dead") {
			t.Errorf("ps -a = %q, want the symlink entry listed Dead", out)
		}
		for _, cmd := range [][]string{{"start", id}, {"logs", id}, {"wait", id}, {"restart", id}} {
			if r := strata(t, root, cmd...); r.Code == 0 {
				t.Errorf("%s on a symlink entry succeeded", cmd[0])
			}
		}
		mustStrata(t, root, "rm", "-f", id[:12])
		if _, err := os.Lstat(cdir(id)); !os.IsNotExist(err) {
			t.Errorf("entry after rm -f: %v, want gone", err)
		}
		if _, err := os.Lstat("/lock"); err == nil {
			t.Errorf("/lock exists: made through the symlink?")
		}
		if _, err := os.Stat("/etc/passwd"); err != nil {
			t.Errorf("/etc/passwd after rm -f of a symlink to /: %v", err)
		}
	})

	t.Run("monitor killed", func(t *testing.T) {
		mustStrata(t, root, "run", "-d", "--name", "sh-killed", "alpine", "sleep", "600")
		id := containerID(t, root, "sh-killed")
		st := readState(t, cdir(id))
		if st.MonitorPid <= 0 {
			t.Fatalf("state %+v names no monitor", st)
		}
		// The monitor is the one our `run -d` started.
		if err := syscall.Kill(st.MonitorPid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if !gone(st.Pid) {
			t.Fatalf("container PID 1 %d outlived its monitor", st.Pid)
		}
		if r := mustStrata(t, root, "wait", "sh-killed"); strings.TrimSpace(r.Stdout) != "255" {
			t.Errorf("wait after the monitor was killed = %q, want 255", r.Stdout)
		}
		if line := psLine(t, root, "sh-killed", "-a"); !strings.Contains(line, "Exited (255)") {
			t.Errorf("ps -a = %q, want Exited (255)", line)
		}
		if r := strata(t, root, "kill", "sh-killed"); r.Code == 0 {
			t.Errorf("kill of an exited container succeeded")
		}
		mustStrata(t, root, "stop", "sh-killed")
		mustStrata(t, root, "rename", "sh-killed", "sh-killed2")
		mustStrata(t, root, "rename", "sh-killed2", "sh-killed")
		mustStrata(t, root, "restart", "-t", "1", "sh-killed")
		if line := psLine(t, root, "sh-killed"); !strings.Contains(line, "Up") {
			t.Errorf("ps after restart = %q, want Up", line)
		}
		mustStrata(t, root, "stop", "-t", "1", "sh-killed")
		mustStrata(t, root, "rm", "sh-killed")
	})

	t.Run("log symlink", func(t *testing.T) {
		host := filepath.Join(t.TempDir(), "host.log")
		secret := `{"log":"SECRET\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}` + "\n"
		if err := os.WriteFile(host, []byte(secret), 0o600); err != nil {
			t.Fatal(err)
		}
		mustStrata(t, root, "create", "--name", "sh-log", "alpine", "echo", "OVERWRITE")
		id := containerID(t, root, "sh-log")
		if err := os.Symlink(host, filepath.Join(cdir(id), "log.json")); err != nil {
			t.Fatal(err)
		}
		if r := strata(t, root, "logs", "sh-log"); r.Code == 0 || strings.Contains(r.Stdout, "SECRET") {
			t.Errorf("logs through a symlink = %d %q, want an error and no host content", r.Code, r.Stdout)
		}
		if r := strata(t, root, "start", "sh-log"); r.Code == 0 {
			strata(t, root, "wait", "sh-log")
			t.Errorf("start with a symlinked log succeeded")
		}
		if b, _ := os.ReadFile(host); string(b) != secret {
			t.Errorf("host file behind log.json = %q, want untouched", b)
		}
		mustStrata(t, root, "rm", "-f", "sh-log")
	})

	t.Run("state copied from a running container", func(t *testing.T) {
		// A state.json that names another container's live monitor and PID 1, with their
		// true start time: nothing done to the copy may reach the other container.
		mustStrata(t, root, "run", "-d", "--name", "sh-live", "alpine", "sleep", "600")
		mustStrata(t, root, "create", "--name", "sh-copy", "alpine", "true")
		live, cp := containerID(t, root, "sh-live"), containerID(t, root, "sh-copy")
		b, err := os.ReadFile(filepath.Join(cdir(live), "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cdir(cp), "state.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		pid := readState(t, cdir(live)).Pid
		if r := strata(t, root, "kill", "sh-copy"); r.Code == 0 {
			t.Errorf("kill of the copy succeeded")
		}
		// Nor may exec, enter or top reach the other container's processes through it.
		for _, args := range [][]string{{"exec", "sh-copy", "true"}, {"enter", "sh-copy", "true"}, {"top", "sh-copy"}} {
			if r := strata(t, root, args...); r.Code == 0 || strings.Contains(r.Stdout, "sleep") {
				t.Errorf("%v of the copy: exit %d, stdout %q; want it refused as not running", args, r.Code, r.Stdout)
			}
		}
		if r := strata(t, root, "inspect", "--proc", "sh-copy"); strings.Contains(r.Stdout, "sleep") {
			t.Errorf("inspect --proc of the copy shows the other container's process: %.300s", r.Stdout)
		}
		strata(t, root, "stop", "-t", "1", "sh-copy")
		mustStrata(t, root, "rm", "-f", "sh-copy")
		if !alive(pid) {
			t.Fatalf("the live container's PID 1 died of what was done to the copy")
		}
		if line := psLine(t, root, "sh-live"); !strings.Contains(line, "Up") {
			t.Errorf("ps line of the live container = %q, want Up", line)
		}
		mustStrata(t, root, "rm", "-f", "sh-live")
	})

	t.Run("created", func(t *testing.T) {
		mustStrata(t, root, "create", "--name", "sh-created", "alpine", "sleep", "600")
		if r := strata(t, root, "kill", "sh-created"); r.Code == 0 {
			t.Errorf("kill of a created container succeeded")
		}
		mustStrata(t, root, "stop", "sh-created")
		if r := mustStrata(t, root, "wait", "sh-created"); strings.TrimSpace(r.Stdout) != "0" {
			t.Errorf("wait on a created container = %q, want 0", r.Stdout)
		}
		mustStrata(t, root, "rename", "sh-created", "sh-created2")
		mustStrata(t, root, "rename", "sh-created2", "sh-created")
		mustStrata(t, root, "rm", "sh-created")
	})
}
