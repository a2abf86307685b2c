package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// strataWithNofile runs strata as a shell does after `ulimit -Sn soft`: the Go runtime of
// strata (and of its init) raises its own soft RLIMIT_NOFILE to the hard one at start, and
// only restores it for the programs it execs; a container must see soft, not the raised one.
func strataWithNofile(t *testing.T, soft uint64, root string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{"-c", `ulimit -Sn "$1" && shift && exec "$@"`, "sh", fmt.Sprint(soft), strataBin, "--root", root}, args...)
	cmd := exec.CommandContext(ctx, "sh", argv...)
	cmd.Env = append(os.Environ(), "STRATA_REGISTRY_MIRROR=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running strata %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{code, stdout.String(), stderr.String()}
}

// nofileLimits are this process's RLIMIT_NOFILE hard limit and a soft one well below it, so
// the Go runtime's raise (to hard) shows if it leaks into a container.
func nofileLimits(t *testing.T) (soft, hard uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < 64 {
		t.Skipf("RLIMIT_NOFILE's hard limit is %d: too low to test with", lim.Max)
	}
	return min(lim.Max/2, 1000), lim.Max
}

// TestUlimitDefault: without --ulimit, a container's command gets the limits strata was
// started with, the soft RLIMIT_NOFILE too, in the foreground, detached and under --init.
func TestUlimitDefault(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	soft, hard := nofileLimits(t)
	want := fmt.Sprintf("%d %d\n", soft, hard)
	const script = `echo $(ulimit -Sn) $(ulimit -Hn)`

	for _, flags := range [][]string{{"--rm"}, {"--rm", "--init"}} {
		r := strataWithNofile(t, soft, root, append(append([]string{"run"}, flags...), "alpine", "sh", "-c", script)...)
		if r.Code != 0 || r.Stdout != want {
			t.Errorf("run %v: exit %d, stdout %q, stderr %q; want %q (the caller's limits)", flags, r.Code, r.Stdout, r.Stderr, want)
		}
	}
	r := strataWithNofile(t, soft, root, "run", "-d", "alpine", "sh", "-c", script)
	if r.Code != 0 {
		t.Fatalf("run -d: exit %d, stderr %q", r.Code, r.Stderr)
	}
	id := strings.TrimSpace(r.Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
	mustStrata(t, root, "wait", id)
	if out := mustStrata(t, root, "logs", id).Stdout; out != want {
		t.Errorf("run -d printed %q, want %q (the caller's limits)", out, want)
	}
}

// TestUlimit: --ulimit sets exactly the limits asked for, repeated for several types, on
// run and create (inspect shows them as docker's HostConfig.Ulimits); a hard limit above
// strata's own, a soft above the hard, an unknown type or a bad number fails with 125 and
// one line before any container is made.
func TestUlimit(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	soft, hard := nofileLimits(t)

	// Below the caller's soft limit and between it and the hard one: both must come out as
	// asked, whatever the Go runtime did to its own limit. Lowering the others is always
	// allowed.
	for _, n := range []uint64{soft / 2, soft + 1} {
		arg := fmt.Sprintf("nofile=%d:%d", n, hard-1)
		r := strataWithNofile(t, soft, root, "run", "--rm", "--ulimit", arg, "--ulimit", "core=0", "--ulimit", "cpu=1000:2000",
			"alpine", "sh", "-c", `echo $(ulimit -Sn) $(ulimit -Hn) $(ulimit -Sc) $(ulimit -Hc) $(ulimit -St) $(ulimit -Ht)`)
		want := fmt.Sprintf("%d %d 0 0 1000 2000\n", n, hard-1)
		if r.Code != 0 || r.Stdout != want {
			t.Errorf("run --ulimit %s: exit %d, stdout %q, stderr %q; want %q", arg, r.Code, r.Stdout, r.Stderr, want)
		}
	}

	id := strings.TrimSpace(mustStrata(t, root, "create", "--ulimit", "nofile=64:128", "--ulimit", "nofile=100:200", "--ulimit", "cpu=30",
		"alpine", "sh", "-c", `echo $(ulimit -Sn) $(ulimit -Hn) $(ulimit -St)`).Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
	var got []struct {
		HostConfig struct {
			Ulimits []struct {
				Name       string
				Hard, Soft int64
			}
		}
	}
	out := mustStrata(t, root, "inspect", id).Stdout
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("inspect %s: %v\n%s", id, err, out)
	}
	if u := fmt.Sprint(got[0].HostConfig.Ulimits); u != "[{nofile 200 100} {cpu 30 30}]" {
		t.Errorf("inspect HostConfig.Ulimits = %s, want nofile 100:200 (the last one given) and cpu 30", u)
	}
	mustStrata(t, root, "start", id)
	mustStrata(t, root, "wait", id)
	if out := mustStrata(t, root, "logs", id).Stdout; out != "100 200 30\n" {
		t.Errorf("created with --ulimit, the command printed %q, want \"100 200 30\"", out)
	}

	// As docker's: what exec runs in the container gets the container's limits too.
	d := strings.TrimSpace(mustStrata(t, root, "run", "-d", "--ulimit", "nofile=100:200", "--ulimit", "cpu=30", "alpine", "sleep", "600").Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", d) })
	if out := mustStrata(t, root, "exec", d, "sh", "-c", `echo $(ulimit -Sn) $(ulimit -Hn) $(ulimit -St)`).Stdout; out != "100 200 30\n" {
		t.Errorf("exec in a container run with --ulimit printed %q, want \"100 200 30\"", out)
	}

	for _, tc := range []struct{ arg, want string }{
		{fmt.Sprintf("nofile=10:%d", hard+1), "hard limit"},
		{"nofile=10:-1", "hard limit unlimited is above"},
		{"nofile=20:10", "soft limit 20 is above the hard limit 10"},
		{"bogus=1", `unknown type "bogus"`},
		{"nofile=lots", `limit "lots" is not a number`},
		{"nofile", "want TYPE=SOFT[:HARD]"},
	} {
		before := containerDirs(t, root)
		for _, args := range [][]string{{"run", "--rm"}, {"run", "-d"}, {"create"}} {
			cmd := args[0]
			r := strata(t, root, append(args, "--ulimit", tc.arg, "alpine", "true")...)
			lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
			if r.Code != 125 || len(lines) != 1 || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("%s --ulimit %s: exit %d, stderr %q; want 125 and one line with %q", cmd, tc.arg, r.Code, r.Stderr, tc.want)
			}
		}
		if after := containerDirs(t, root); len(after) != len(before) {
			t.Errorf("--ulimit %s left containers: before %v, after %v", tc.arg, before, after)
		}
	}
}
