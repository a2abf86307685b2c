package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestValidateRedTeam runs, from the built binary, the bad values a red-team pass of the
// runner's checks found: names and addresses that wrote lines of their own into the
// container's /etc/hosts or /etc/resolv.conf (and ran, exit 0), limits the kernel refused
// late in words naming strata's cgroup files, a cpuset list that cost seconds of CPU, env
// files read whole for the exec to fail, and values printed bare. Each ends in one line with
// exit 125, in seconds, leaving no container.
func TestValidateRedTeam(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() {
		if r := strata(t, root, "ps", "-aq"); r.Stdout != "" {
			t.Errorf("containers left: %q", r.Stdout)
		}
	})
	dir := t.TempDir()
	var envFiles []string
	for _, name := range []string{"a", "b", "c"} {
		var b strings.Builder
		for i := 0; b.Len() < 3<<20; i++ {
			fmt.Fprintf(&b, "%s%06d=%s\n", strings.ToUpper(name), i, strings.Repeat("v", 1000))
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		envFiles = append(envFiles, "--env-file", p)
	}
	for _, tt := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"hostname with a newline", []string{"-h", "x\n6.6.6.6\tbank"}, `invalid hostname "x\n6.6.6.6\tbank"`},
		{"hostname with a space", []string{"--hostname", "a b"}, `invalid hostname "a b"`},
		{"add-host name with a newline", []string{"--add-host", "evil\n6.6.6.6 bank.com:1.2.3.4"}, `the name contains "\n"`},
		{"add-host address with a zone", []string{"--add-host", "x:fe80::1%eth0\n6.6.6.6 y"}, `invalid IP address in --add-host`},
		{"dns with a zone", []string{"--dns", "fe80::1%eth0\nsearch evil"}, `invalid IP address in --dns`},
		{"blank cpuset", []string{"--cpuset-cpus", " "}, `invalid cpuset cpus value " "`},
		{"long cpuset", []string{"--cpuset-cpus", strings.Repeat("0-4095,", 18000) + "0"}, "the kernel takes at most 49252"},
		{"pids above the kernel's", []string{"--pids-limit", "5000000"}, `invalid pids-limit value "5000000"`},
		{"env files past execve's limit", envFiles, "over the 6291456 the kernel passes"},
		{"empty env file", []string{"--env-file", ""}, `reading env file "": no such file or directory`},
		{"empty cap-add", []string{"--cap-add", ""}, `--cap-add "": unknown capability`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := strata(t, root, append(append([]string{"run", "--rm"}, tt.flags...), "alpine", "cat", "/etc/hosts", "/etc/resolv.conf")...)
			if r.Code != 125 {
				t.Errorf("exit %d, want 125 (stdout %q, stderr %q)", r.Code, r.Stdout, r.Stderr)
			}
			assertOneLineError(t, r.Stderr, tt.want)
			if strings.Contains(r.Stderr, "/sys/fs/cgroup") {
				t.Errorf("stderr names a cgroup file: %q", r.Stderr)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	// What docker takes still runs: a dotted hostname, an --add-host of a bracketed address
	// and a pids limit at the kernel's.
	r := mustStrata(t, root, "run", "--rm", "--pids-limit", "4194304", "-h", "web-1.example", "--add-host", "db:[::1]", "alpine", "cat", "/etc/hosts", "/etc/hostname")
	for _, want := range []string{"127.0.1.1\tweb-1.example\n", "::1\tdb\n", "\nweb-1.example\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("stdout %q, want %q in it", r.Stdout, want)
		}
	}
}
