package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestStartAgainThroughOwnTraps starts again containers that, while they ran, turned what the
// init mounts on or enters at the next start into traps in their own writable layer or
// volume: the working directory and a volume's parent made symlinks to a host dir (by its
// absolute path and by dot-dots), into /proc and through the magic link of PID 1's root, and
// the device nodes and links of a /dev volume symlinks to a host file. The next start resolves each inside the container's root or refuses it in
// one line; the host dir keeps its one file, and nothing stays mounted or running.
func TestStartAgainThroughOwnTraps(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	host := t.TempDir()
	secret := filepath.Join(host, "secret")
	if err := os.WriteFile(secret, []byte("untouched"), 0o600); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", 12) + strings.TrimPrefix(host, "/")
	t.Cleanup(func() {
		if names, err := os.ReadDir(host); err != nil || len(names) != 1 {
			t.Errorf("host dir holds %v, %v; want only secret", names, err)
		}
		if b, err := os.ReadFile(secret); err != nil || string(b) != "untouched" {
			t.Errorf("host file = %q, %v", b, err)
		}
		if m := mountsUnder(t, host); len(m) > 0 {
			t.Errorf("mounts left on the host dir: %v", m)
		}
		if r := strata(t, root, "ps", "-aq"); r.Stdout != "" {
			t.Errorf("containers left: %q", r.Stdout)
		}
	})
	const ref = "traps/restart:1"
	// /app and /data are made by the init at the first start, in the container's own layer,
	// where the container may rename them.
	loadConfigImage(t, root, ref, nil, nil, func(c *v1.Config) {
		c.WorkingDir = "/app"
		c.Volumes = map[string]struct{}{"/data/sub": {}, "/dev": {}}
	})
	for _, tc := range []struct {
		name, trap string
		wantErr    string // a failed start's line; "" for a start that works
		check      string // run by exec after a start that works, prints ok
	}{
		{"working dir to the host", "cd / && rmdir /app && ln -s " + host + " /app", "",
			`[ "$(pwd)" = ` + host + ` ] && [ ! -e ` + secret + ` ] && echo ok`},
		{"working dir past the root", "cd / && rmdir /app && ln -s " + up + " /app", "",
			`[ "$(pwd)" = ` + host + ` ] && [ ! -e ` + secret + ` ] && echo ok`},
		{"volume's parent to the host", "mv /data /data2 && ln -s " + up + " /data", "",
			`grep -q " ` + host + `/sub " /proc/self/mountinfo && [ ! -e ` + secret + ` ] && echo ok`},
		{"volume's parent into /proc", "mv /data /data2 && ln -s /proc/sys/kernel /data", "/proc/sys/kernel/sub", ""},
		{"working dir through the init's root", "cd / && rmdir /app && ln -s /proc/1/root/../../../.. /app", "", `[ "$(pwd)" = / ] && echo ok`},
		{"/dev volume's files to the host", "cd /dev && for f in zero full pts shm mqueue fd stdout ptmx console; do ln -s " + secret + " $f; done", "",
			`[ -c /dev/null ] && [ ! -e ` + secret + ` ] && echo ok`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := strings.TrimSpace(mustStrata(t, root, "run", "-d", ref, "sleep", "60").Stdout)
			t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
			mustStrata(t, root, "exec", "-w", "/", id, "sh", "-c", tc.trap)
			mustStrata(t, root, "stop", "-t", "0", id)
			r := strata(t, root, "start", id)
			if tc.wantErr != "" {
				line := strings.TrimSpace(r.Stderr)
				if r.Code == 0 || !strings.Contains(line, tc.wantErr) || strings.Contains(line, "\n") {
					t.Errorf("start: exit %d, stderr %q; want a failure in one line with %q", r.Code, r.Stderr, tc.wantErr)
				}
			} else if r.Code != 0 {
				t.Fatalf("start: exit %d, stderr %q", r.Code, r.Stderr)
			} else if r := strata(t, root, "exec", id, "sh", "-c", tc.check); r.Code != 0 || r.Stdout != "ok\n" {
				t.Errorf("exec %q: exit %d, stdout %q, stderr %q", tc.check, r.Code, r.Stdout, r.Stderr)
			}
			mustStrata(t, root, "inspect", id)
			mustStrata(t, root, "rm", "-f", id)
		})
	}
}
