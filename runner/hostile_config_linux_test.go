package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunHostileUserFiles runs, in a 64 MiB memory limit, images whose /etc/passwd and
// /etc/group are made to cost: the init reads them with every capability, before the
// container's command, so what they cost is strata's.
func TestRunHostileUserFiles(t *testing.T) {
	write := func(t *testing.T, spec Spec, name string, data []byte) {
		t.Helper()
		etc := filepath.Join(spec.Dir, "upper", "etc")
		if err := os.MkdirAll(etc, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("a group repeated a million times", func(t *testing.T) {
		// Each line named the user: every one was kept, hundreds of MB for 32 MB of file.
		spec := testSpec(t, "grep", "-E", "^Groups:", "/proc/self/status")
		spec.Resources.Memory = 64 << 20
		spec.User = "w"
		write(t, spec, "passwd", []byte("w:x:7:8::/home/w:/bin/sh\n"))
		write(t, spec, "group", bytes.Repeat([]byte("wg:x:77:w,a,b,c\n"), 32<<20/16))
		if got := strings.Join(strings.Fields(mustRun(t, spec)), " "); got != "Groups: 8 77" {
			t.Errorf("-u w = %q, want Groups: 8 77", got)
		}
	})
	t.Run("a sparse passwd of 4 GiB", func(t *testing.T) {
		// A line every MiB, holes between: each read as a line of zeros, all 4 GiB of them.
		spec := testSpec(t, "true")
		spec.User = "w"
		write(t, spec, "passwd", nil)
		p := filepath.Join(spec.Dir, "upper", "etc", "passwd")
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		for off := int64(1<<20 - 1); off < 4<<30; off += 1 << 20 {
			if _, err := f.WriteAt([]byte("\n"), off); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.WriteAt([]byte("w:x:7:8::/:/bin/sh\n"), 4<<30); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		code, _, _, err := runOut(t, spec)
		if code != ExitOwnError || err == nil || !strings.Contains(err.Error(), "reading passwd file: larger than the 64 MiB strata reads") {
			t.Errorf("Run = %d, %v; want 125 and 'larger than'", code, err)
		}
	})
	t.Run("a line of 2 MiB", func(t *testing.T) {
		spec := testSpec(t, "id", "-u")
		write(t, spec, "passwd", []byte(strings.Repeat("x", 2<<20)+"\nroot:x:0:0:root:/root:/bin/sh\n"))
		if got := mustRun(t, spec); got != "0" {
			t.Errorf("id -u = %q, want 0", got)
		}
	})
}
