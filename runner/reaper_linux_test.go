package runner

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
)

// TestReaperPidsLimit: --init runs at the smallest --pids-limit it allows (the reaper died
// with a runtime dump under 8, and could not fork the command at 8 in a quarter of the
// starts), and one below is refused with a one-line error before anything starts.
func TestReaperPidsLimit(t *testing.T) {
	testutil.Requires(t, staticSelf)
	// The runtime's start up is timing-dependent: run a few times.
	for i := range 5 {
		spec := testSpec(t, "true")
		spec.Init = true
		spec.Resources.PidsLimit = minInitPidsLimit
		if code, _, stderr, err := runOut(t, spec); err != nil || code != 0 {
			t.Fatalf("run %d: Run(--init --pids-limit %d, true) = %d, %v, want 0; stderr: %s", i, minInitPidsLimit, code, err, stderr)
		}
	}
	spec := testSpec(t, "true")
	spec.Init = true
	spec.Resources.PidsLimit = minInitPidsLimit - 1
	code, _, stderr, err := runOut(t, spec)
	want := "--init needs --pids-limit of at least " + strconv.Itoa(minInitPidsLimit)
	if err == nil || !strings.Contains(err.Error(), want) || code != ExitOwnError || stderr != "" {
		t.Errorf("Run(--init --pids-limit %d) = %d, %v, stderr %q; want %d and %q", minInitPidsLimit-1, code, err, stderr, ExitOwnError, want)
	}
	// Without --init the same limit is the command's.
	spec = testSpec(t, "true")
	spec.Resources.PidsLimit = minInitPidsLimit - 1
	if code, _, stderr, err := runOut(t, spec); err != nil || code != 0 {
		t.Errorf("Run(--pids-limit %d, true) = %d, %v; stderr: %s", minInitPidsLimit-1, code, err, stderr)
	}
}

// TestReaperThreads: the reaper has no more threads than minInitPidsLimit allows it, before
// and after it has forwarded signals and reaped orphans; it forwards what it is sent.
func TestReaperThreads(t *testing.T) {
	testutil.Requires(t, staticSelf)
	// It goes on once a USR1 and a HUP came back (or after 30 s): a sleep of 0.3 s let them
	// come on an idle machine only.
	script := `before=$(ls /proc/1/task | wc -l)
trap 'u=1; echo usr1' USR1
trap 'h=1; echo hup' HUP
for i in 1 2 3 4 5; do kill -USR1 1; kill -HUP 1; sh -c 'sleep 0.01 &'; done
n=0; until [ -n "$u" ] && [ -n "$h" ] || [ $n -ge 600 ]; do sleep 0.05; n=$((n+1)); done
kill -WINCH 1
after=$(ls /proc/1/task | wc -l)
echo threads $before $after`
	spec := testSpec(t, "sh", "-c", script)
	spec.Init = true
	code, out, stderr, err := runOut(t, spec)
	if err != nil || code != 0 {
		t.Fatalf("Run(--init) = %d, %v; stderr: %s", code, err, stderr)
	}
	var before, after int
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "threads" {
			before, _ = strconv.Atoi(f[1])
			after, _ = strconv.Atoi(f[2])
		}
	}
	if before == 0 || before > minInitPidsLimit-1 || after > minInitPidsLimit-1 {
		t.Errorf("reaper threads %d at start, %d after signals and orphans; want at most %d\n%s", before, after, minInitPidsLimit-1, out)
	}
	t.Logf("reaper threads: %d at start, %d after signals and orphans", before, after)
	if strings.Count(out, "usr1") == 0 || strings.Count(out, "hup") == 0 {
		t.Errorf("the command got no forwarded USR1 or HUP:\n%s", out)
	}
	// A TERM sent to PID 1 reaches the command, which leaves with its own status.
	spec = testSpec(t, "sh", "-c", "trap 'exit 7' TERM; kill -TERM 1; n=0; while [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done")
	spec.Init = true
	if code, _, stderr, err := runOut(t, spec); err != nil || code != 7 {
		t.Errorf("Run(--init, TERM to PID 1) = %d, %v, want 7 (forwarded); stderr: %s", code, err, stderr)
	}
}

// TestReaperExecCodes: with --init, a command the reaper cannot exec exits as it does without
// --init (and as docker's tini): 127 for a script whose interpreter is not there (the
// reaper exited 126), 126 for a file the kernel cannot run.
func TestReaperExecCodes(t *testing.T) {
	testutil.Requires(t, staticSelf)
	for _, tt := range []struct {
		body string
		want int
	}{
		{"#!/nope/sh\necho hi\n", ExitNotFound},
		{"\x01\x02not a program", ExitCannotInvoke},
	} {
		for _, init := range []bool{false, true} {
			spec := testSpec(t, "/x")
			if err := os.WriteFile(filepath.Join(spec.Dir, "upper", "x"), []byte(tt.body), 0o755); err != nil {
				t.Fatal(err)
			}
			spec.Init = init
			code, _, stderr, _ := runOut(t, spec)
			if code != tt.want {
				t.Errorf("init %v, /x = %q: exit %d, want %d; stderr: %s", init, tt.body, code, tt.want, stderr)
			}
		}
	}
}

// TestReaperGoEnv: --init's reaper runs its Go runtime with one P, whatever the host's CPUs
// (its threads, which --pids-limit counts, grew with its Ps: up to 13 at 8 Ps where
// minInitPidsLimit allows 11), and the command has its own GOMAXPROCS, or none, never the
// reaper's.
func TestReaperGoEnv(t *testing.T) {
	testutil.Requires(t, staticSelf)
	for _, tt := range []struct{ env, want string }{
		{"", "unset"},
		{"GOMAXPROCS=3", "3"},
	} {
		spec := testSpec(t, "sh", "-c", `tr '\0' '\n' </proc/1/environ | grep '^GOMAXPROCS='; echo "command ${GOMAXPROCS-unset}"`)
		spec.Init = true
		if tt.env != "" {
			spec.Env = append(spec.Env, tt.env)
		}
		code, out, stderr, err := runOut(t, spec)
		if want := "GOMAXPROCS=1\ncommand " + tt.want + "\n"; err != nil || code != 0 || out != want {
			t.Errorf("Run(--init, env %q) = %d, %v, out %q, want 0 and %q; stderr: %s", tt.env, code, err, out, want, stderr)
		}
	}
}
