package runner

import (
	"errors"
	"testing"
)

func TestRunExitStatus(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"zero", []string{"true"}, 0},
		{"three", []string{"sh", "-c", "exit 3"}, 3},
		// PID 1 of a pid namespace ignores signals it has no handler for, even SIGKILL sent
		// from inside: the shell survives its own kill -9 and exits 0, as under docker.
		{"pid 1 ignores its own kill", []string{"sh", "-c", "kill -9 $$; exit 4"}, 4},
		{"child killed", []string{"sh", "-c", "sh -c 'kill -9 $$'; exit $?"}, 128 + 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr, err := runOut(t, testSpec(t, tt.args...))
			if err != nil || code != tt.want {
				t.Fatalf("Run(%q) = %d, %v, want %d; stderr: %s", tt.args, code, err, tt.want, stderr)
			}
		})
	}
}

func TestRunExecErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    int
		wantMsg string
	}{
		{"not found", []string{"nosuchcmd"}, ExitNotFound, `exec: "nosuchcmd": executable file not found in $PATH`},
		{"absolute not found", []string{"/nope"}, ExitNotFound, `exec: "/nope": stat /nope: no such file or directory`},
		{"not executable", []string{"/etc/passwd"}, ExitCannotInvoke, `exec: "/etc/passwd": permission denied`},
		{"directory", []string{"/etc"}, ExitCannotInvoke, `exec: "/etc": is a directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, _, err := runOut(t, testSpec(t, tt.args...))
			var ec *ExitCodeError
			if !errors.As(err, &ec) || code != tt.want || ec.Code != tt.want {
				t.Fatalf("Run(%q) = %d, %v, want code %d", tt.args, code, err, tt.want)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("Run(%q) error = %q, want %q", tt.args, err.Error(), tt.wantMsg)
			}
		})
	}
}
