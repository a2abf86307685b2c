package runner

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
)

// TestReaperNproc: --init with a user other than root and an nproc ulimit under what the
// reaper's threads need is refused in one line (the Go runtime died with a dump of its
// goroutines: "failed to create new OS thread"); root, which RLIMIT_NPROC does not limit,
// runs at any, and so does a container without --init.
func TestReaperNproc(t *testing.T) {
	testutil.Requires(t, staticSelf)
	for _, tt := range []struct {
		name  string
		user  string
		init  bool
		soft  int64
		fails bool
	}{
		{"user at 1", "1000", true, 1, true},
		{"user at 4", "1000:1000", true, 4, true},
		{"user one under", "1000", true, minInitPidsLimit - 1, true},
		{"root at 1", "0", true, 1, false},
		{"user without --init", "1000", false, 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec(t, "true")
			spec.Init = tt.init
			spec.User = tt.user
			spec.Ulimits = []Ulimit{{Name: "nproc", Soft: 100, Hard: 100}, {Name: "nproc", Soft: tt.soft, Hard: 100}}
			code, _, stderr, err := runOut(t, spec)
			if !tt.fails {
				if err != nil || code != 0 {
					t.Errorf("Run = %d, %v, stderr %q; want 0", code, err, stderr)
				}
				return
			}
			want := "--init needs --ulimit nproc of at least"
			if code != ExitOwnError || err == nil || !strings.Contains(err.Error(), want) || stderr != "" {
				t.Errorf("Run = %d, %v, stderr %q; want %d and %q", code, err, stderr, ExitOwnError, want)
			}
		})
	}
}

// TestReaperData: --init with a --ulimit data under what the reaper's Go runtime maps is
// refused in one line before anything starts (the runtime died at start: with a dump of its
// goroutines at 64 MiB, of SIGSEGV and without a word at 16 MiB, the command never run); at
// the smallest allowed the command runs, and without --init a small limit is the command's.
func TestReaperData(t *testing.T) {
	testutil.Requires(t, staticSelf)
	for _, tt := range []struct {
		name  string
		init  bool
		soft  int64
		fails bool
	}{
		{"16 MiB", true, 16 << 20, true},
		{"64 MiB", true, 64 << 20, true},
		{"one under", true, minInitData - 1, true},
		{"the smallest", true, minInitData, false},
		{"unlimited", true, -1, false},
		{"without --init", false, 16 << 20, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec(t, "sh", "-c", "echo ok")
			spec.Init = tt.init
			spec.Ulimits = []Ulimit{{Name: "data", Soft: 1 << 30, Hard: -1}, {Name: "data", Soft: tt.soft, Hard: -1}}
			code, out, stderr, err := runOut(t, spec)
			if !tt.fails {
				if err != nil || code != 0 || out != "ok\n" {
					t.Errorf("Run = %d, %v, %q, stderr %q; want 0 and ok", code, err, out, stderr)
				}
				return
			}
			want := "--init needs --ulimit data of at least"
			if code != ExitOwnError || err == nil || !strings.Contains(err.Error(), want) || stderr != "" {
				t.Errorf("Run = %d, %v, stderr %q; want %d and %q", code, err, stderr, ExitOwnError, want)
			}
		})
	}
}

// TestRunDataLimitBigEnv: a --ulimit data under what the init has mapped, with an image's
// environment of 100k variables, runs the command: the init died with "fatal error: runtime:
// out of memory" in about a third of the starts (the strata binary; most, the test binary)
// when it grew its heap for exec's copy of the environment, after it had told strata the
// command ran (the container "exited 2" with the runtime's dump on its stderr). The command
// has the limit, and the RLIMIT_NOFILE it has without it (the init's raw execve does not
// restore it as syscall.Exec does).
func TestRunDataLimitBigEnv(t *testing.T) {
	for i := range 8 {
		spec := testSpec(t, "true")
		for j := range 100000 {
			spec.Env = append(spec.Env, fmt.Sprintf("V%d=%d", j, j))
		}
		spec.Ulimits = []Ulimit{{Name: "data", Soft: 16 << 20, Hard: 16 << 20}}
		code, _, stderr, err := runOut(t, spec)
		if err != nil || code != 0 {
			t.Fatalf("run %d: Run(--ulimit data=16m, 100k variables) = %d, %v; stderr: %.200s", i, code, err, stderr)
		}
	}
	// The command gets the limit, and the open files' one it gets without it.
	limits := func(us []Ulimit) string {
		spec := testSpec(t, "grep", "-E", "^Max (data size|open files)", "/proc/self/limits")
		spec.Ulimits = us
		return mustRun(t, spec)
	}
	plain := limits(nil)
	got := limits([]Ulimit{{Name: "data", Soft: 16 << 20, Hard: 32 << 20}})
	wantData := strings.Join(strings.Fields("Max data size 16777216 33554432 bytes"), " ")
	if lines := strings.Split(got, "\n"); len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != wantData || lines[1] != strings.Split(plain, "\n")[1] {
		t.Errorf("--ulimit data=16m:32m: limits\n%s\nwant %q and the open files of a run without it:\n%s", got, wantData, plain)
	}
}

// TestExecDataLimitBigEnv: exec in a container with a --ulimit data and an image's environment
// of 100k variables runs the command, under the limit: the helper set the container's limits
// on itself, a Go program, before it copied the environment for the command, and died of
// "fatal error: runtime: out of memory" in most execs.
func TestExecDataLimitBigEnv(t *testing.T) {
	testutil.Requires(t, staticSelf)
	c := startedContainer(t, func(s *Spec) {
		for j := range 100000 {
			s.Env = append(s.Env, fmt.Sprintf("V%d=%d", j, j))
		}
		s.Ulimits = []Ulimit{{Name: "data", Soft: 16 << 20, Hard: 32 << 20}}
	}, "sleep", "1000")
	for i := range 6 {
		if code, _, stderr, err := execOut(t, c, ExecOptions{Args: []string{"true"}}); code != 0 || err != nil {
			t.Fatalf("exec %d: Exec(true) = %d, %v; stderr: %.200s", i, code, err, stderr)
		}
	}
	code, out, stderr, err := execOut(t, c, ExecOptions{Args: []string{"grep", "^Max data size", "/proc/self/limits"}})
	if want := "Max data size 16777216 33554432 bytes"; code != 0 || err != nil || strings.Join(strings.Fields(out), " ") != want {
		t.Errorf("Exec(grep /proc/self/limits) = %d, %q, %v, stderr %q; want %q", code, out, err, stderr, want)
	}
}

// TestRunNofileLimit: a --ulimit nofile of a few descriptors runs a command that opens none, as
// docker's does (the init opened the container's /dev/null after it had set the limit, and
// the container did not start at 8); with --init, under what the reaper's runtime holds, it
// is refused in one line before anything starts (the runtime died at start with a dump of its
// goroutines under 5, and could not start the command at 8).
func TestRunNofileLimit(t *testing.T) {
	for _, tt := range []struct {
		name        string
		init, stdin bool
		soft        int64
		fails       bool
	}{
		{"3", false, false, 3, false},
		{"8", false, false, 8, false},
		{"8 with -i", false, true, 8, false},
		{"--init at 4", true, false, 4, true},
		{"--init one under", true, false, minInitNofile - 1, true},
		{"--init at the smallest", true, false, minInitNofile, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.init {
				testutil.Requires(t, staticSelf)
			}
			spec := testSpec(t, "sh", "-c", "echo ok")
			spec.Init = tt.init
			spec.Stdin = tt.stdin
			spec.Ulimits = []Ulimit{{Name: "nofile", Soft: 100, Hard: 100}, {Name: "nofile", Soft: tt.soft, Hard: 100}}
			var code int
			var out, stderr string
			var err error
			if tt.stdin {
				var o, e bytes.Buffer
				code, err = Run(context.Background(), spec, Stdio{Stdin: strings.NewReader(""), Stdout: &o, Stderr: &e})
				out, stderr = o.String(), e.String()
			} else {
				code, out, stderr, err = runOut(t, spec)
			}
			if !tt.fails {
				if err != nil || code != 0 || out != "ok\n" {
					t.Errorf("Run = %d, %v, %q, stderr %q; want 0 and ok", code, err, out, stderr)
				}
				return
			}
			want := "--init needs --ulimit nofile of at least"
			if code != ExitOwnError || err == nil || !strings.Contains(err.Error(), want) || stderr != "" {
				t.Errorf("Run = %d, %v, stderr %.200q; want %d and %q", code, err, stderr, ExitOwnError, want)
			}
		})
	}
}

// TestExecNofileLimit: exec in a container with a --ulimit nofile of a few descriptors runs a
// command that opens none, with that limit, as docker's does: the helper set it on itself and
// then could not fork the command ("fork/exec: too many open files").
func TestExecNofileLimit(t *testing.T) {
	testutil.Requires(t, staticSelf)
	c := startedContainer(t, func(s *Spec) {
		s.Ulimits = []Ulimit{{Name: "nofile", Soft: 8, Hard: 8}}
	}, "sleep", "1000")
	for _, opts := range []ExecOptions{
		{Args: []string{"sh", "-c", "echo ok"}},
		{Args: []string{"sh", "-c", "echo ok"}, User: "1000"},
	} {
		if code, out, stderr, err := execOut(t, c, opts); code != 0 || err != nil || out != "ok" {
			t.Errorf("Exec(%q, -u %q) = %d, %q, %v; stderr: %.200s", opts.Args, opts.User, code, out, err, stderr)
		}
	}
	code, out, _, err := execOut(t, c, ExecOptions{Args: []string{"grep", "^Max open files", "/proc/self/limits"}})
	if want := "Max open files 8 8 files"; code != 0 || err != nil || strings.Join(strings.Fields(out), " ") != want {
		t.Errorf("Exec(grep /proc/self/limits) = %d, %q, %v; want %q", code, out, err, want)
	}
}

// TestExecNprocLimit: exec -u of a user other than root in a container with a --ulimit nproc
// of one runs a command that forks nothing, with that limit: the helper, whose threads count
// toward the user's processes once it runs as them, could not fork it ("fork/exec: resource
// temporarily unavailable").
func TestExecNprocLimit(t *testing.T) {
	testutil.Requires(t, staticSelf)
	c := startedContainer(t, func(s *Spec) {
		s.Ulimits = []Ulimit{{Name: "nproc", Soft: 1, Hard: 1}}
	}, "sleep", "1000")
	code, out, stderr, err := execOut(t, c, ExecOptions{Args: []string{"grep", "^Max processes", "/proc/self/limits"}, User: "1000"})
	if want := "Max processes 1 1 processes"; code != 0 || err != nil || strings.Join(strings.Fields(out), " ") != want {
		t.Errorf("Exec(-u 1000, grep /proc/self/limits) = %d, %q, %v, stderr %.200q; want %q", code, out, err, stderr, want)
	}
}
