package integration

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testimages"
)

// TestRunDockerParity checks, through the CLI, runner behaviours docker users rely on: the
// devices cgroup, -d -i, mount points of a --read-only container, and logs --tail 0.
func TestRunDockerParity(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	ref := reg.Host + "/library/busybox:1.38.0-musl"
	mustStrata(t, root, "pull", "-q", ref)

	t.Run("devices cgroup", func(t *testing.T) {
		// With CAP_MKNOD a node for a disk (8:0) can be made in /dev (a tmpfs without
		// nodev), but only --privileged may open it: the devices cgroup says EPERM.
		const script = `mknod /dev/sda b 8 0 && echo made; echo x >/dev/null && echo null-ok; head -c1 /dev/sda 2>&1 >/dev/null; exit 0`
		r := mustStrata(t, root, "run", "--rm", "--cap-add", "MKNOD", ref, "sh", "-c", script)
		for _, want := range []string{"made", "null-ok", "Operation not permitted"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("--cap-add MKNOD: the container printed %q, want %q in it", r.Stdout, want)
			}
		}
		r = mustStrata(t, root, "run", "--rm", "--privileged", ref, "sh", "-c", script)
		if !strings.Contains(r.Stdout, "made\nnull-ok") || strings.Contains(r.Stdout, "Operation not permitted") {
			t.Errorf("--privileged: the container printed %q, want the node made and not refused by the cgroup", r.Stdout)
		}
	})

	t.Run("detached interactive", func(t *testing.T) {
		id := detached(t, root, "-i", ref, "cat")
		quiet := detached(t, root, ref, "cat")
		// cat would read EOF at once from a closed or /dev/null stdin, and end: it waits
		// for input only on an open one.
		waitAsleep(t, root, id, "cat")
		if s := status(t, root, id); s != "running" {
			t.Errorf("run -d -i cat is %s once it waits for input, want running", s)
		}
		mustStrata(t, root, "wait", quiet)
		if s := status(t, root, quiet); s != "exited" {
			t.Errorf("run -d cat (no -i) is %s, want exited: its stdin is /dev/null", s)
		}
	})

	t.Run("read-only mount points", func(t *testing.T) {
		host := t.TempDir()
		if err := os.WriteFile(filepath.Join(host, "f"), []byte("from host"), 0o644); err != nil {
			t.Fatal(err)
		}
		alpine := reg.Host + "/library/alpine:" + testimages.AlpineVersion
		mustStrata(t, root, "pull", "-q", alpine)
		tests := []struct {
			name  string
			image string // busybox when empty
			args  []string
			cmd   string
			want  string
		}{
			{"-v", "", []string{"-v", host + ":/newdir"}, "ls /newdir", "f"},
			{"-v nested", "", []string{"-v", host + ":/new/nested/dir:ro"}, "cat /new/nested/dir/f", "from host"},
			{"-v file", "", []string{"-v", filepath.Join(host, "f") + ":/etc/new.conf"}, "cat /etc/new.conf", "from host"},
			{"--tmpfs", "", []string{"--tmpfs", "/newdir"}, "grep -c ' /newdir tmpfs ' /proc/mounts", "1"},
			{"--mount type=tmpfs", "", []string{"--mount", "type=tmpfs,target=/scratch/x"}, "grep -c ' /scratch/x tmpfs ' /proc/mounts", "1"},
			// alpine's /var/run is a symlink to /run: the point is made where it leads.
			{"through the image's symlink", alpine, []string{"--tmpfs", "/var/run/x"}, "grep -c ' /run/x tmpfs ' /proc/mounts", "1"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				img := tt.image
				if img == "" {
					img = ref
				}
				args := append([]string{"run", "--rm", "--read-only"}, tt.args...)
				r := mustStrata(t, root, append(args, img, "sh", "-c", tt.cmd+"; if touch /rootfs-is-rw 2>/dev/null; then echo ROOT-RW; fi")...)
				if got := strings.TrimSpace(r.Stdout); got != tt.want {
					t.Errorf("run --read-only %s: %q, want %q", strings.Join(tt.args, " "), got, tt.want)
				}
			})
		}
		// A stopped read-only container starts again over the same mount points.
		id := detached(t, root, "--read-only", "--tmpfs", "/again", ref, "sh", "-c", "grep -c ' /again ' /proc/mounts")
		mustStrata(t, root, "wait", id)
		mustStrata(t, root, "start", id)
		mustStrata(t, root, "wait", id)
		if r := mustStrata(t, root, "logs", id); r.Stdout != "1\n1\n" {
			t.Errorf("logs of a read-only container run twice = %q, want the mount both times", r.Stdout)
		}
	})

	t.Run("logs tail 0", func(t *testing.T) {
		id := detached(t, root, ref, "sh", "-c", "echo old; while :; do sleep 0.1; echo new; done")
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(mustStrata(t, root, "logs", id).Stdout, "old\nnew\n"); {
			if time.Now().After(deadline) {
				t.Fatal("the container never logged its first line")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if r := mustStrata(t, root, "logs", "--tail", "0", id); r.Stdout != "" || r.Stderr != "" {
			t.Errorf("logs --tail 0 = %q, %q, want nothing", r.Stdout, r.Stderr)
		}
		if r := mustStrata(t, root, "logs", "--tail", "all", id); !strings.HasPrefix(r.Stdout, "old\n") {
			t.Errorf("logs --tail all = %q, want it to start with old", r.Stdout)
		}
		if r := mustStrata(t, root, "logs", "--tail", "1", id); r.Stdout != "new\n" {
			t.Errorf("logs --tail 1 = %q, want one new", r.Stdout)
		}

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		follow := exec.CommandContext(ctx, strataBin, "--root", root, "logs", "-f", "--tail", "0", id)
		out, err := follow.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := follow.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = follow.Process.Kill(); _ = follow.Wait() })
		lines := bufio.NewScanner(out)
		for i := 0; i < 3 && lines.Scan(); i++ {
			if lines.Text() != "new" {
				t.Errorf("logs -f --tail 0 printed %q, want only new lines", lines.Text())
			}
		}
		if err := lines.Err(); err != nil || ctx.Err() != nil {
			t.Errorf("logs -f --tail 0 stopped: %v, %v", err, ctx.Err())
		}
	})
}

// status is the container's state as inspect reports it: running, exited, ...
func status(t *testing.T, root, id string) string {
	t.Helper()
	return strings.TrimSpace(mustStrata(t, root, "inspect", "--format", "{{.State.Status}}", id).Stdout)
}
