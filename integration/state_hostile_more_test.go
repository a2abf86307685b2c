package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// editJSON rewrites the JSON file name through edit.
func editJSON(t *testing.T, name string, edit func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	edit(v)
	if b, err = json.Marshal(v); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// startTime is a process's start time, /proc/<pid>/stat field 22.
func startTime(t *testing.T, pid int) uint64 {
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

// TestStateHostileMore goes on from TestStateHostile: container files edited to name host
// paths or unrelated processes, as a hand edit or a reboot leaves them, must not make strata
// write outside the container dir, wait on or signal another process, or keep a container.
func TestStateHostileMore(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	names := []string{"shm-dir", "shm-upper", "shm-volume", "shm-foreign", "shm-exiting", "shm-restart"}
	t.Cleanup(func() { strata(t, root, append([]string{"rm", "-f"}, names...)...) })
	cdir := func(id string) string { return filepath.Join(root, "containers", id) }

	// A process of ours, and a child of it, to name in a state.json: strata must leave both
	// alone and not wait for them.
	parent := exec.Command("sh", "-c", "sleep 1000; true")
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = parent.Process.Kill(); _ = parent.Wait() })
	var child int
	for deadline := time.Now().Add(30 * time.Second); child == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", parent.Process.Pid, parent.Process.Pid))
		child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if child == 0 {
		t.Fatal("no child of the sh started")
	}
	// Ours too, and not ended with the sh: it would sleep on for 1000 s. Run before the sh's
	// cleanup, while the sh, its parent, still holds its pid.
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	parentStart := startTime(t, parent.Process.Pid)

	t.Run("spec dir edited", func(t *testing.T) {
		// Start writes the etc files in the spec's dir: edited to another dir, they were
		// written there (with /etc, over the host's hosts, hostname and resolv.conf).
		mustStrata(t, root, "create", "--name", "shm-dir", "alpine", "cat", "/etc/hostname")
		id := containerID(t, root, "shm-dir")
		elsewhere := t.TempDir()
		editJSON(t, filepath.Join(cdir(id), "config.json"), func(v map[string]any) {
			v["spec"].(map[string]any)["dir"] = elsewhere
		})
		mustStrata(t, root, "start", "-a", "shm-dir")
		for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
			if _, err := os.Lstat(filepath.Join(elsewhere, f)); err == nil {
				t.Errorf("start wrote %s into the dir config.json names, outside the container", f)
			}
		}
		mustStrata(t, root, "rm", "shm-dir")
	})

	t.Run("upperdir edited", func(t *testing.T) {
		mustStrata(t, root, "create", "--name", "shm-upper", "alpine", "sh", "-c", "echo pwned > /pwned")
		id := containerID(t, root, "shm-upper")
		host := t.TempDir()
		editJSON(t, filepath.Join(cdir(id), "config.json"), func(v map[string]any) {
			m := v["spec"].(map[string]any)["root"].([]any)[0].(map[string]any)
			opts := m["options"].([]any)
			for i, o := range opts {
				if s := o.(string); strings.HasPrefix(s, "upperdir=") {
					opts[i] = "upperdir=" + host
				}
			}
		})
		if r := strata(t, root, "start", "-a", "shm-upper"); r.Code == 0 {
			t.Errorf("start of a container whose upperdir names a host dir succeeded")
		}
		if _, err := os.Lstat(filepath.Join(host, "pwned")); err == nil {
			t.Errorf("the container wrote into the host dir its edited upperdir names")
		}
		mustStrata(t, root, "rm", "-f", "shm-upper")
	})

	t.Run("volume dir a symlink", func(t *testing.T) {
		// The init binds an anonymous volume's dir, following a symlink in its place.
		mustStrata(t, root, "create", "--name", "shm-volume", "-v", "/data", "alpine", "sh", "-c", "echo pwned > /data/pwned")
		id := containerID(t, root, "shm-volume")
		host := t.TempDir()
		vol := filepath.Join(cdir(id), "volumes", "0")
		if err := os.RemoveAll(vol); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(host, vol); err != nil {
			t.Fatal(err)
		}
		if r := strata(t, root, "start", "-a", "shm-volume"); r.Code == 0 {
			t.Errorf("start of a container whose volume dir is a symlink to a host dir succeeded")
		}
		if _, err := os.Lstat(filepath.Join(host, "pwned")); err == nil {
			t.Errorf("the container wrote into the host dir its volume's symlink names")
		}
		mustStrata(t, root, "rm", "-f", "shm-volume")
	})

	t.Run("running state naming another process", func(t *testing.T) {
		// The monitor and PID 1 a state names, with their true start time, are live and
		// parent and child, but not the container's: ps, wait and start see it exited.
		mustStrata(t, root, "create", "--name", "shm-foreign", "alpine", "sleep", "600")
		id := containerID(t, root, "shm-foreign")
		st := fmt.Sprintf(`{"status":"running","pid":%d,"monitorPid":%d,"monitorStart":%d,"exitCode":0}`, child, parent.Process.Pid, parentStart)
		if err := os.WriteFile(filepath.Join(cdir(id), "state.json"), []byte(st), 0o600); err != nil {
			t.Fatal(err)
		}
		if line := psLine(t, root, "shm-foreign", "-a"); !strings.Contains(line, "Exited (255)") {
			t.Errorf("ps -a = %q, want Exited (255)", line)
		}
		start := time.Now()
		if r := mustStrata(t, root, "wait", "shm-foreign"); strings.TrimSpace(r.Stdout) != "255" || time.Since(start) > 5*time.Second {
			t.Errorf("wait = %q after %v, want 255 at once", r.Stdout, time.Since(start))
		}
		mustStrata(t, root, "start", "shm-foreign")
		if line := psLine(t, root, "shm-foreign"); !strings.Contains(line, "Up") {
			t.Errorf("ps after start = %q, want Up", line)
		}
		mustStrata(t, root, "rm", "-f", "shm-foreign")
		if !alive(parent.Process.Pid) || !alive(child) {
			t.Fatalf("a process the state named died")
		}
	})

	t.Run("exiting state naming another process", func(t *testing.T) {
		// A live monitor with its true start time and a PID 1 that is gone: the container
		// would read as exiting, its monitor about to record the exit, for ever.
		mustStrata(t, root, "create", "--name", "shm-exiting", "alpine", "sleep", "600")
		id := containerID(t, root, "shm-exiting")
		st := fmt.Sprintf(`{"status":"running","pid":%d,"monitorPid":%d,"monitorStart":%d,"exitCode":0}`, 1<<22-1, parent.Process.Pid, parentStart)
		if err := os.WriteFile(filepath.Join(cdir(id), "state.json"), []byte(st), 0o600); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if r := mustStrata(t, root, "wait", "shm-exiting"); strings.TrimSpace(r.Stdout) != "255" || time.Since(start) > 5*time.Second {
			t.Errorf("wait = %q after %v, want 255 at once", r.Stdout, time.Since(start))
		}
		mustStrata(t, root, "rm", "shm-exiting")
		if !alive(parent.Process.Pid) {
			t.Fatalf("the process the state named as monitor died")
		}
	})

	t.Run("restart killed", func(t *testing.T) {
		// A restart of a --rm container SIGKILLed after its stop signal: as docker's daemon
		// finishes a restart whose CLI went away, the killer the restart left starts the
		// container again once it has exited (here at a stop of ours), and the container,
		// --rm still, is removed when it next stops.
		mustStrata(t, root, "run", "-d", "--rm", "--name", "shm-restart", "alpine", "sleep", "600")
		id := containerID(t, root, "shm-restart")
		restart := exec.Command(strataBin, "--root", root, "restart", "-t", "30", "shm-restart")
		if err := restart.Start(); err != nil {
			t.Fatal(err)
		}
		// The mark names the restart itself until its killer is spawned, just before the
		// stop signal; from then on it names the killer.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			b, err := os.ReadFile(filepath.Join(cdir(id), "restarting"))
			if pid, _, _ := strings.Cut(string(b), " "); err == nil && pid != "" && pid != strconv.Itoa(restart.Process.Pid) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("restart never named its killer in its mark")
			}
		}
		_ = restart.Process.Kill() // ours, started above
		_ = restart.Wait()
		mustStrata(t, root, "stop", "-t", "0", "shm-restart")
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if r := strata(t, root, "events", "--since", "60s", "--until", "0s", "--filter", "event=restart", "--filter", "container="+id); strings.Contains(r.Stdout, "restart") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the killed restart's killer never started the container again: %q", psLine(t, root, "shm-restart", "-a"))
			}
		}
		mustStrata(t, root, "stop", "-t", "0", "shm-restart")
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, err := os.Lstat(cdir(id)); os.IsNotExist(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the --rm container lingers after its restart was finished and it stopped: %q", psLine(t, root, "shm-restart", "-a"))
			}
		}
	})
}
