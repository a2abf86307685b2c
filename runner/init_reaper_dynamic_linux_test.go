package runner

import (
	"errors"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestExecErrorReaper: --init's reaper that the kernel cannot load (ENOENT from the execve of
// /proc/self/exe: a dynamically linked strata, whose loader is not in the container) is
// strata's failure, 125, said as such: it was "exec: "sleep": no such file or directory", 127,
// about a command that is there (go test -race's TestExecNonRootPid1 failed with it).
func TestExecErrorReaper(t *testing.T) {
	tests := []struct {
		init     bool
		err      error
		wantCode int
		want     string
	}{
		{false, unix.ENOENT, ExitNotFound, `exec: "sleep": no such file or directory`},
		{false, unix.EACCES, ExitCannotInvoke, `exec: "sleep": permission denied`},
		{true, unix.EACCES, ExitCannotInvoke, `exec: "sleep": permission denied`},
		{true, unix.ENOENT, ExitOwnError, `exec: "sleep": starting --init's reaper: no such file or directory: this strata is dynamically linked`},
	}
	for _, tt := range tests {
		err := execError(Spec{Init: tt.init, Args: []string{"sleep", "1"}}, tt.err)
		var ec *ExitCodeError
		if !errors.As(err, &ec) || ec.Code != tt.wantCode || !strings.HasPrefix(err.Error(), tt.want) || !errors.Is(err, tt.err) {
			t.Errorf("init %v, %v: execError = %v, want code %d and %q", tt.init, tt.err, err, tt.wantCode, tt.want)
		}
	}
}

// TestInitReaperDynamic: a run with --init from a dynamically linked binary (this test binary
// under go test -race) fails with the reaper named as what could not start, not the command.
// Only a dynamically linked test binary can show it: it skips otherwise.
func TestInitReaperDynamic(t *testing.T) {
	if staticSelf.Check() == "" {
		t.Skip("skipping: the test binary is statically linked; go test -race builds one that is not")
	}
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	spec := testSpec(t, "true")
	spec.Init = true
	code, _, _, err := runOut(t, spec)
	if code != ExitOwnError || err == nil || !strings.Contains(err.Error(), "--init's reaper") {
		t.Errorf("Run(--init) = %d, %v; want %d and an error naming --init's reaper", code, err, ExitOwnError)
	}
}
