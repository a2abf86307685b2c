package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSeccompDenyProfiles: a --security-opt seccomp profile that forbids what the start needs
// after the filter is installed (its default action, or execve's) fails run and run -d with
// 125 and one line that names the filter, quickly. One whose action is SCMP_ACT_KILL
// (kill the thread) killed only the init's exec thread, and the init's other threads kept
// strata waiting for ever.
func TestSeccompDenyProfiles(t *testing.T) {
	root := busyboxRoot(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, profile, want string
	}{
		{"kill thread by default", `{"defaultAction":"SCMP_ACT_KILL"}`, "seccomp filter"},
		{"kill thread, new name", `{"defaultAction":"SCMP_ACT_KILL_THREAD"}`, "seccomp filter"},
		{"kill process by default", `{"defaultAction":"SCMP_ACT_KILL_PROCESS"}`, "seccomp filter"},
		{"errno by default", `{"defaultAction":"SCMP_ACT_ERRNO"}`, "seccomp filter"},
		{"execve killed", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["execve"],"action":"SCMP_ACT_KILL"}]}`, "seccomp filter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			profile := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			if err := os.WriteFile(profile, []byte(tc.profile), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, mode := range [][]string{{"--rm"}, {"-d", "--name", "deny"}} {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				args := append(append([]string{"--root", root, "run"}, mode...), "--security-opt", "seccomp="+profile, "busybox:1.38.0-musl", "true")
				out, err := exec.CommandContext(ctx, strataBin, args...).CombinedOutput()
				hung := ctx.Err() != nil
				cancel()
				line := strings.TrimSpace(string(out))
				code := -1
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
				if hung {
					t.Fatalf("run %s with %s hung", mode[0], tc.profile)
				}
				if code != 125 || !strings.Contains(line, tc.want) || strings.Contains(line, "\n") {
					t.Errorf("run %s with %s: exit %d, output %q; want 125 and one line with %q", mode[0], tc.profile, code, line, tc.want)
				}
				strata(t, root, "rm", "-f", "deny")
			}
		})
	}
	if out := mustStrata(t, root, "ps", "-aq").Stdout; out != "" {
		t.Errorf("containers left: %q", out)
	}
}
