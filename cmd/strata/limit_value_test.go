package main

import (
	"strings"
	"testing"
)

// TestLimitErrorsShowValueAsGiven: a limit refused once read shows the value as typed, not in
// bytes: -m 1024k said `invalid memory value "1048576"`, a number the user never wrote.
func TestLimitErrorsShowValueAsGiven(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "-m", "1024k", "alpine", "true"}, `invalid memory value "1024k": minimum memory limit allowed is 6MB`},
		{[]string{"run", "-m", "1g", "--memory-swap", "10m", "alpine", "true"}, `invalid memory-swap value "10m": minimum memoryswap limit should be larger than memory limit`},
		{[]string{"create", "--memory-swap", "3m", "alpine", "true"}, `invalid memory-swap value "3m": a memory-swap limit needs a memory limit too`},
		{[]string{"create", "--memory-reservation", "1.5", "alpine", "true"}, `invalid memory-reservation value "1.5": Minimum memory reservation allowed is 6MB`},
		{[]string{"run", "-m", "10m", "--memory-reservation", "0.5g", "alpine", "true"}, `invalid memory-reservation value "0.5g": Minimum memory limit can not be less than memory reservation limit`},
		{[]string{"update", "--memory-reservation", "1b", "c"}, `invalid memory-reservation value "1b": Minimum memory reservation allowed is 6MB`},
	} {
		_, _, err := runCLI(t, root, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitCodeOf(err) != 125 {
			t.Errorf("%s = %v (exit %d), want %q, exit 125", strings.Join(tc.args, " "), err, exitCodeOf(err), tc.want)
		}
	}
}
