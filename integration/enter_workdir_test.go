package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnterRelativeWorkdir: enter -w takes a relative host path from strata's working
// directory, with the mount namespace joined or not. With it, the helper took the path from
// the host's /, where it had returned, and `enter --ns mnt -w sub` failed or landed in /sub.
func TestEnterRelativeWorkdir(t *testing.T) {
	root := busyboxRoot(t)
	detached(t, root, "--name", "ew", "busybox:1.38.0-musl", "sleep", "1000")
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"net", "mnt", "all"} {
		cmd := exec.Command(strataBin, "--root", root, "enter", "--ns", ns, "-w", "sub", "ew", "--", "pwd")
		cmd.Dir = dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if want := filepath.Join(dir, "sub"); err != nil || strings.TrimSpace(stdout.String()) != want {
			t.Errorf("enter --ns %s -w sub pwd = %v, %q (stderr %q), want %s", ns, err, stdout.String(), stderr.String(), want)
		}
	}
}
