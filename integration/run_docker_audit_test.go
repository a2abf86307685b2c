package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestUserFilesAsDocker: an --env-file or seccomp profile that was not a regular file was
// refused ("not a regular file: a fifo"), so `--env-file <(echo A=1)` and /dev/null failed
// with 125 where docker reads them; a byte-order mark opening an env file stayed in the
// first variable's name. Both are read as docker reads them now.
func TestUserFilesAsDocker(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash for a process substitution")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script := `"$0" --root "$1" run --rm --env-file <(echo A=1) --env-file /dev/null ` +
		`--security-opt seccomp=<(echo '{"defaultAction":"SCMP_ACT_ALLOW"}') alpine sh -c 'echo "A=$A"'`
	cmd := exec.CommandContext(ctx, bash, "-c", script, strataBin, root)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stdout.String() != "A=1\n" {
		t.Errorf("run --env-file <(echo A=1): %v, stdout %q, stderr %q; want A=1", err, stdout.String(), stderr.String())
	}

	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.WriteString("F=2\n")
			f.Close()
		}
	}()
	bom := filepath.Join(dir, "bom.env")
	if err := os.WriteFile(bom, []byte("\ufeffBOM=3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustStrata(t, root, "run", "--rm", "--env-file", fifo, "--env-file", bom, "alpine", "sh", "-c", `echo "F=$F BOM=$BOM"`)
	if r.Stdout != "F=2 BOM=3\n" {
		t.Errorf("run --env-file FIFO --env-file BOM file: stdout %q, want %q", r.Stdout, "F=2 BOM=3\n")
	}

	for _, tt := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--env-file", "/dev/zero"}, `reading env file "/dev/zero": file too big`},
		{[]string{"--security-opt", "seccomp=/dev/zero"}, "file too big"},
		{[]string{"--env-file", dir}, "is a directory"},
		{[]string{"--env-file", filepath.Join(dir, "missing")}, "no such file or directory"},
	} {
		r := strata(t, root, append(append([]string{"run", "--rm"}, tt.flags...), "alpine", "true")...)
		if r.Code != 125 {
			t.Errorf("run %q: exit %d, want 125", tt.flags, r.Code)
		}
		assertOneLineError(t, r.Stderr, tt.want)
	}
}

// TestHostnameAsDocker: -h was held to RFC 1123 (my_host and foo. refused); docker takes any
// hostname of up to 64 bytes. What would break /etc/hosts (whitespace, a control character,
// '#') is still refused.
func TestHostnameAsDocker(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	for _, h := range []string{"my_host", "foo."} {
		r := mustStrata(t, root, "run", "--rm", "-h", h, "alpine", "sh", "-c", "hostname; cat /etc/hostname; grep -F 127.0.1.1 /etc/hosts")
		if want := h + "\n" + h + "\n127.0.1.1\t" + h + "\n"; r.Stdout != want {
			t.Errorf("run -h %s: stdout %q, want %q", h, r.Stdout, want)
		}
	}
	for _, h := range []string{"a#b", "a b", "a\x01b"} {
		r := strata(t, root, "run", "--rm", "-h", h, "alpine", "true")
		if r.Code != 125 {
			t.Errorf("run -h %q: exit %d, want 125", h, r.Code)
		}
		assertOneLineError(t, r.Stderr, "invalid hostname")
	}
}

// TestAddHostEqualsAsDocker: --add-host took name:ip only; docker 25 takes name=ip too, which
// IPv6 addresses need least confusingly (bar=::1 was split at its first ':').
func TestAddHostEqualsAsDocker(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	r := mustStrata(t, root, "run", "--rm", "--add-host", "bar=::1", "--add-host", "baz:::2", "--add-host", "qux=[::3]",
		"--add-host", "v4=10.0.0.4", "alpine", "tail", "-n4", "/etc/hosts")
	if want := "::1\tbar\n::2\tbaz\n::3\tqux\n10.0.0.4\tv4\n"; r.Stdout != want {
		t.Errorf("run --add-host bar=::1 …: /etc/hosts ends %q, want %q", r.Stdout, want)
	}
	for _, tt := range []struct{ v, want string }{
		{"gw=host-gateway", "host-gateway"},
		{"a:b=::1", "want name:ip or name=ip"},
		{"bar=[::1", "invalid IP address in --add-host"},
	} {
		r := strata(t, root, "run", "--rm", "--add-host", tt.v, "alpine", "true")
		if r.Code != 125 {
			t.Errorf("run --add-host %q: exit %d, want 125", tt.v, r.Code)
		}
		assertOneLineError(t, r.Stderr, tt.want)
	}
}

// TestCapAddNotHeldAsError: --cap-add of a capability strata's own bounding set lacks (root
// without CAP_SYS_RESOURCE here) ran without it, exit 0. It is refused with 125 before the
// container is made; --cap-add ALL and --privileged still run with what strata holds.
func TestCapAddNotHeldAsError(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	names := map[int]string{24: "SYS_RESOURCE", 25: "SYS_TIME", 21: "SYS_ADMIN", 16: "SYS_MODULE", 22: "SYS_BOOT", 27: "MKNOD"}
	var missing string
	for c := 0; c < 41 && missing == ""; c++ {
		if ok, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err == nil && ok == 0 {
			missing = names[c]
		}
	}
	if missing == "" {
		t.Skip("the bounding set holds every capability the test names")
	}
	r := strata(t, root, "run", "--rm", "--cap-add", missing, "alpine", "true")
	if r.Code != 125 {
		t.Errorf("run --cap-add %s: exit %d, want 125 (stdout %q)", missing, r.Code, r.Stdout)
	}
	assertOneLineError(t, r.Stderr, `--cap-add "`+missing+`": strata does not hold this capability here (not in its bounding set)`)
	if ps := strata(t, root, "ps", "-aq"); ps.Stdout != "" {
		t.Errorf("containers left after a refused --cap-add: %q", ps.Stdout)
	}
	for _, flags := range [][]string{{"--cap-add", "ALL"}, {"--privileged"}} {
		mustStrata(t, root, append(append([]string{"run", "--rm"}, flags...), "alpine", "true")...)
	}
}
