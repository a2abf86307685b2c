package runner

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOpenPTYRefusesOtherFiles: exec -t's helper allocates the terminal through the
// container's /dev/ptmx, which the container may have made a link to anything it reaches: a
// terminal (its /dev/console, /dev/tty, the user's terminal for the helper), a file. Only the
// multiplexer gets the ioctls; a pty slave took TIOCSPTLCK before the helper failed on it.
func TestOpenPTYRefusesOtherFiles(t *testing.T) {
	m, s, err := openPTY()
	if err != nil {
		t.Skipf("no pty here: %v", err)
	}
	defer m.Close()
	defer s.Close()
	dir := t.TempDir()
	for name, target := range map[string]string{
		"slave": slavePath(t, s),
		"null":  "/dev/null",
		"file":  filepath.Join(dir, "plain"),
	} {
		if err := os.WriteFile(filepath.Join(dir, "plain"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, name)
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		m2, s2, err := openPTYAt(link)
		if err == nil {
			m2.Close()
			s2.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "is not the pty multiplexer") {
			t.Errorf("openPTYAt(a link to %s) = %v, want it refused as not the multiplexer", name, err)
		}
	}
}

// slavePath is the /dev/pts path of pty slave s.
func slavePath(t *testing.T, s *os.File) string {
	t.Helper()
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(s.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
