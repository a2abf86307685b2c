package integration

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCLIRedTeamRun runs, in real containers, what the CLI's red-team pass fixed: a working
// directory through ".." is cleaned as docker cleans it (the init failed to chdir through an
// /a nothing made), and --security-opt forms docker takes that ask for what strata does
// anyway run instead of being refused.
func TestCLIRedTeamRun(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-w", "/a/../..", "alpine", "pwd"}, "/"},
		{[]string{"-w", "/a/../b/./c/", "alpine", "pwd"}, "/b/c"},
		{[]string{"--read-only", "-w", "/x/../y", "alpine", "pwd"}, "/y"},
		{[]string{"--security-opt", "label=disable", "--security-opt", "apparmor=unconfined", "alpine", "echo", "ok"}, "ok"},
		{[]string{"--security-opt", "no-new-privileges:true", "alpine", "grep", "NoNewPrivs", "/proc/self/status"}, "NoNewPrivs:\t1"},
		{[]string{"--privileged", "--security-opt", "no-new-privileges=false", "alpine", "grep", "NoNewPrivs", "/proc/self/status"}, "NoNewPrivs:\t0"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := mustStrata(t, root, append([]string{"run", "--rm"}, tt.args...)...)
			if got := strings.TrimSpace(r.Stdout); got != tt.want {
				t.Errorf("stdout %q, want %q (stderr %q)", got, tt.want, r.Stderr)
			}
		})
	}
	for _, opt := range []string{"no-new-privileges=maybe", "no-new-privileges=false", "seccomp=", "label=type:x"} {
		r := strata(t, root, "run", "--rm", "--security-opt", opt, "alpine", "true")
		if r.Code != 125 {
			t.Errorf("run --security-opt %s: exit %d, want 125 (stderr %q)", opt, r.Code, r.Stderr)
		}
		assertOneLineError(t, r.Stderr, "--security-opt")
	}
}

// TestCLIRedTeamFormat: --format templates that made strings without end, and serve's empty
// --addr, end in one line and exit 1 from the built binary: the template ones killed strata
// with "fatal error: out of memory" and a Go stack trace, the --addr one served the store on
// every interface.
func TestCLIRedTeamFormat(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	mustStrata(t, root, "create", "alpine", "true") // a row for ps's template to run on
	nested := strings.Repeat("(json ", 40) + "." + strings.Repeat(")", 40)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"images", "--format", "{{" + nested[1:len(nested)-1] + "}}"}, "--format: json would make more than 64 MiB"},
		{[]string{"ps", "-a", "--format", `{{define "x"}}{{template "x" (printf "%s%s" . .)}}{{end}}{{template "x" "a"}}`}, "--format: printf would make more than 64 MiB"},
		{[]string{"serve", "--addr", ""}, `invalid --addr "": want HOST:PORT`},
	} {
		t.Run(tt.args[0], func(t *testing.T) {
			r := strata(t, root, tt.args...)
			if r.Code != 1 {
				t.Errorf("exit %d, want 1 (stderr %.300q)", r.Code, r.Stderr)
			}
			assertOneLineError(t, r.Stderr, tt.want)
		})
	}
}

// TestCLIRedTeamEnterTTY: enter always attaches stdin, so its -t is exec's -it and is refused
// on a stdin that is no terminal, as docker refuses exec -it: `echo x | strata enter -t c --
// cat` hung, its pty never seeing the end of the pipe.
func TestCLIRedTeamEnterTTY(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "rt-enter") })
	mustStrata(t, root, "run", "-d", "--name", "rt-enter", "alpine", "sleep", "600")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin, "--root", root, "enter", "-t", "rt-enter", "--", "cat")
	cmd.Stdin = strings.NewReader("x\n")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("enter -t with a piped stdin still runs after 20s")
	}
	// docker's CLI exits 1 on this refusal, before it asks the daemon anything.
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("enter -t with a piped stdin = %v, want exit 1", err)
	}
	assertOneLineError(t, stderr.String(), "the input device is not a TTY")
	// Without -t a pipe is fine: the command reads it to its end.
	r := run(t, nil, "x\n", root, "enter", "rt-enter", "--", "cat")
	if r.Code != 0 || r.Stdout != "x\n" {
		t.Errorf("enter with a piped stdin = exit %d, stdout %q, want 0, %q (stderr %q)", r.Code, r.Stdout, "x\n", r.Stderr)
	}
}
