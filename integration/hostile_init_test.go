package integration

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestInitHostileImage runs, through the CLI, an alpine whose top layer turns the places
// the init binds onto into traps: /etc/hosts and a volume's target are FIFOs (an open of
// either never returned), /data leads into /proc/sys, and the working directory is a
// symlink to nowhere yet.
func TestInitHostileImage(t *testing.T) {
	requiresContainers(t)
	const ref = "hostile/init:1"
	root := newRoot(t)
	loadConfigImage(t, root, ref, []tar.Header{
		{Name: "etc/hosts", Typeflag: tar.TypeFifo, Mode: 0o644},
		{Name: "vol", Typeflag: tar.TypeFifo, Mode: 0o644},
		{Name: "data", Typeflag: tar.TypeSymlink, Linkname: "/proc/sys/kernel", Mode: 0o777},
		{Name: "w", Typeflag: tar.TypeSymlink, Linkname: "/nowhere", Mode: 0o777},
	}, nil, func(c *v1.Config) { c.WorkingDir = "/w/sub" })
	host := t.TempDir()
	file := filepath.Join(host, "f")
	if err := os.WriteFile(file, []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	r := strata(t, root, "run", "--rm", "-v", file+":/vol", ref, "sh", "-c", "grep -c localhost /etc/hosts; cat /vol; cd -P . && pwd")
	if want := "2\nfrom host\n/nowhere/sub\n"; r.Code != 0 || r.Stdout != want {
		t.Errorf("run over the FIFOs = %d, %q (stderr %q), want 0 and %q", r.Code, r.Stdout, r.Stderr, want)
	}
	r = strata(t, root, "run", "--rm", "-v", host+":/data", ref, "true")
	if want := "/data in the image leads into /proc"; r.Code != 125 || !strings.Contains(r.Stderr, want) || strings.Count(r.Stderr, "\n") != 1 {
		t.Errorf("run -v onto /data = %d, %q, want 125 and one line with %q", r.Code, r.Stderr, want)
	}
	if r := mustStrata(t, root, "ps", "-aq"); r.Stdout != "" {
		t.Errorf("containers left after run --rm: %q", r.Stdout)
	}
}

// TestInitLongValues: a command name, user or working directory of 70 KB gets the exit code
// and reason a short one gets (127 for a command found nowhere, 125 for a user or directory),
// the reason cut in the middle to one readable line; the init's answer once grew past what
// strata reads of it, and every such run failed with 125 "message too long".
func TestInitLongValues(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	long := strings.Repeat("a", 70_000)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"alpine", long}, 127, "executable file not found"},
		{[]string{"-u", long, "alpine", "true"}, 125, "unable to find user"},
		{[]string{"-w", "/" + long, "alpine", "true"}, 125, "file name too long"},
	} {
		r := strata(t, root, append([]string{"run", "--rm"}, tt.args...)...)
		line := strings.TrimSpace(r.Stderr)
		if r.Code != tt.code || !strings.Contains(line, tt.want) || strings.Contains(line, "\n") || len(line) > 8<<10 {
			t.Errorf("run %.40q… = exit %d, stderr %.200q…; want %d and one line with %q", strings.Join(tt.args, " "), r.Code, line, tt.code, tt.want)
		}
	}
	if r := mustStrata(t, root, "ps", "-aq"); r.Stdout != "" {
		t.Errorf("containers left: %q", r.Stdout)
	}
}
