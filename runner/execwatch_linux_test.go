package runner

import "testing"

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
		{"garbage", false},
	} {
		if got := leaderZombieWithThreads([]byte(tt.stat)); got != tt.want {
			t.Errorf("leaderZombieWithThreads(%q) = %v, want %v", tt.stat, got, tt.want)
		}
	}
}
