package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGoHelperFifoAtStart: a volume that puts a FIFO where the Go runtime reads as it starts
// (/sys/kernel/mm/transparent_hugepage/hpage_pmd_size, or a cgroup CPU limit file bound over)
// makes `run --init` and an `exec` into a container with a tight --ulimit nofile (both start
// strata's Go helper inside the container) fail in one line with 125, where the helper
// blocked in open(2) for ever and strata with it. Without the helper they run.
func TestGoHelperFifoAtStart(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	t.Cleanup(func() { strata(t, root, "rm", "-f", "fifo-exec") })
	thp := t.TempDir()
	fifo := filepath.Join(thp, "hpage_pmd_size")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	bounded := func(args ...string) result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, strataBin, append([]string{"--root", root}, args...)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ctx.Err() != nil {
			t.Fatalf("strata %s hung", strings.Join(args, " "))
		}
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return result{code, stdout.String(), stderr.String()}
	}
	const want = "hpage_pmd_size in the container is a fifo"
	thpVol := thp + ":/sys/kernel/mm/transparent_hugepage"
	checkRefused(t, "run --init", bounded("run", "--rm", "--init", "-v", thpVol, img, "echo", "hi"), 125, want)
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); err == nil {
		// cgroup v1: the cpu controller's files, which the container sees at the same paths.
		checkRefused(t, "run --init with a cgroup file bound over", bounded("run", "--rm", "--init", "-v", fifo+":/sys/fs/cgroup/cpu/cpu.cfs_quota_us", img, "echo", "hi"),
			125, "cpu.cfs_quota_us in the container is a fifo")
	}
	if r := bounded("run", "--rm", "-v", thpVol, img, "echo", "hi"); r.Code != 0 || r.Stdout != "hi\n" {
		t.Errorf("run without --init = %d %q %q, want hi", r.Code, r.Stdout, r.Stderr)
	}
	mustStrata(t, root, "run", "-d", "--name", "fifo-exec", "--ulimit", "nofile=10:10", "-v", thpVol, img, "sleep", "600")
	checkRefused(t, "exec with a tight nofile", bounded("exec", "fifo-exec", "echo", "hi"), 125, want)
}
