package runner

import (
	"strings"
	"testing"
)

// zeroFields is n fields of 0, each after a space.
func zeroFields(n int) string { return strings.Repeat(" 0", n) }

// TestLeaderZombieWithThreads: watchExecThread acts only on a zombie leader whose other threads
// live (an init whose exec thread the seccomp filter killed), never on a process that exec'd
// and exited (a zombie of one thread, `true` done before the watcher looked), nor a live one.
func TestLeaderZombieWithThreads(t *testing.T) {
	for _, tt := range []struct {
		stat string
		want bool
	}{
		{"2568 (100) Z 2560 2568 2568 0 -1 4228164 0 0 0 0 0 0 0 0 20 0 6 0 123 0 0 0", true},
		{"2568 (true) Z 2560 2568 2568 0 -1 4228164 0 0 0 0 0 0 0 0 20 0 1 0 123 0 0 0", false},
		{"2568 (100) S 2560 2568 2568 0 -1 4228164 0 0 0 0 0 0 0 0 20 0 6 0 123 0 0 0", false},
		{"2568 (a) Z (b) Z 2560 2568 2568 0 -1 4228164 0 0 0 0 0 0 0 0 20 0 6 0 123 0 0 0", true},
		{"2568 (100) Z 2560", false},
		// With its exit_code (field 52): killed by the filter (SIGSYS), or by a SIGKILL whose
		// end the other threads have yet to reach (a kill from outside, not the filter's).
		{"2568 (100) Z 2560 2568 2568 0 -1 4228164 0 0 0 0 0 0 0 0 20 0 6 0 123 0 0 0" + zeroFields(26) + " 31", true},
		{"2568 (100) Z 2560 2568 2568 0 -1 4228164 0 0 0 0 0 0 0 0 20 0 6 0 123 0 0 0" + zeroFields(26) + " 9", false},
		{"garbage", false},
	} {
		if got := leaderZombieWithThreads([]byte(tt.stat)); got != tt.want {
			t.Errorf("leaderZombieWithThreads(%q) = %v, want %v", tt.stat, got, tt.want)
		}
	}
}
