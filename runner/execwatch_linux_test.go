package runner

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
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

// TestPeerClosed: watchExecThread stops at the init's exec, which closes the init's end of the
// socket, even with an answer still unread there; an end still open is not closed.
func TestPeerClosed(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	if peerClosed(fds[0]) {
		t.Error("peerClosed of a socket whose other end is open = true")
	}
	if _, err := unix.Write(fds[1], []byte(execAnnouncement)); err != nil {
		t.Fatal(err)
	}
	if peerClosed(fds[0]) {
		t.Error("peerClosed of a socket with data from an open other end = true")
	}
	unix.Close(fds[1])
	if !peerClosed(fds[0]) {
		t.Error("peerClosed of a socket whose other end closed, its data unread = false")
	}
}
