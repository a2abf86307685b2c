package runner

import (
	"strings"
	"testing"
)

// TestProcSelfCwd: an exec working directory through /proc/self/cwd or /proc/self/root (or
// thread-self) is entered from the container's root, as runc's init, in the container's pid
// namespace with its cwd and root there, enters it: the helper, outside that namespace, has
// no /proc/self in the container's /proc, and `exec -w /proc/self/cwd` failed with ENOENT.
// What else lies under /proc/self is refused in a line; other paths are left as they are.
func TestProcSelfCwd(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{"/proc/self/cwd", "/", ""},
		{"/proc/self/cwd/", "/", ""},
		{"/proc/self/root/tmp", "/tmp", ""},
		{"/proc/thread-self/cwd/var/../tmp", "/var/../tmp", ""},
		{"//proc/./self//root/etc", "/etc", ""},
		{"/proc/../proc/self/cwd/x", "/x", ""},
		{"/proc/self/fd/3", "", "under /proc/self only cwd and root"},
		{"/proc/self/task/1/cwd", "", "under /proc/self only cwd and root"},
		{"/proc/self", "", "/proc/self itself"},
		{"/proc/thread-self/", "", "/proc/thread-self itself"},
		{"/proc/self/cwd/../..", "/../..", ""},
		{"/", "/", ""},
		{"/proc", "/proc", ""},
		{"/proc/1/root/tmp", "/proc/1/root/tmp", ""},
		{"/proc/selfish/cwd", "/proc/selfish/cwd", ""},
		{"/tmp/proc/self/cwd", "/tmp/proc/self/cwd", ""},
		{"/srv/../proc/self/x", "/srv/../proc/self/x", ""}, // srv may be a link: not read here
	} {
		got, err := procSelfCwd(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("procSelfCwd(%q) = %q, %v; want a one-line error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("procSelfCwd(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
