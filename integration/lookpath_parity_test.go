package integration

import (
	"archive/tar"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestEntrypointNotExecutableInPath runs the image docker users meet most often broken: its
// ENTRYPOINT names a script in $PATH that was copied without its x bit. runc's exec.LookPath
// passes over such a file, so docker says 127 "executable file not found in $PATH", for run
// and for exec alike; the same script named by its path is 126 "permission denied".
func TestEntrypointNotExecutableInPath(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const ref = "lookpath/noexec:1"
	loadConfigImage(t, root, ref, []tar.Header{
		{Name: "usr/local/bin/docker-entrypoint.sh", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "usr/local/bin/adir/", Typeflag: tar.TypeDir, Mode: 0o755},
	}, map[string]string{"usr/local/bin/docker-entrypoint.sh": "#!/bin/sh\necho ran\n"}, func(c *v1.Config) {
		c.Entrypoint, c.Cmd = []string{"docker-entrypoint.sh"}, nil
	})
	checkRefused(t, "run", strata(t, root, "run", "--rm", ref), 127, `exec: "docker-entrypoint.sh": executable file not found in $PATH`)
	checkRefused(t, "run a directory in $PATH", strata(t, root, "run", "--rm", "--entrypoint", "adir", ref), 127, `exec: "adir": executable file not found in $PATH`)
	checkRefused(t, "run by path", strata(t, root, "run", "--rm", "--entrypoint", "/usr/local/bin/docker-entrypoint.sh", ref), 126, "permission denied")

	id := strings.TrimSpace(mustStrata(t, root, "run", "-d", "--entrypoint", "sleep", ref, "60").Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
	checkRefused(t, "exec", strata(t, root, "exec", id, "docker-entrypoint.sh"), 127, `exec: "docker-entrypoint.sh": executable file not found in $PATH`)
	checkRefused(t, "exec by path", strata(t, root, "exec", id, "/usr/local/bin/docker-entrypoint.sh"), 126, "permission denied")
	if r := strata(t, root, "exec", id, "sh", "/usr/local/bin/docker-entrypoint.sh"); r.Code != 0 || r.Stdout != "ran\n" {
		t.Errorf("exec sh SCRIPT: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	mustStrata(t, root, "rm", "-f", id)
}
