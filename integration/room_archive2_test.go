package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/internal/testutil"
)

// smallTmpfs mounts a tmpfs with opts ("size=1m,nr_inodes=20") at a new dir and unmounts it
// when the test ends; remount changes its options in place, files and all.
func smallTmpfs(t *testing.T, opts string) (dir string, remount func(opts string)) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "strata-it", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir, func(opts string) {
		t.Helper()
		if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
			t.Fatalf("remount tmpfs: %v: %s", err, out)
		}
	}
}

// TestLoadSaveNoRoom: load into a store whose disk has too little space, or too few inodes,
// fails with one line and leaves no ref and no staging directory, and the same load
// succeeds once the disk has room; save -o to a full disk fails with one line and leaves no
// file, neither at the name nor beside it.
func TestLoadSaveNoRoom(t *testing.T) {
	t.Parallel()
	testutil.Requires(t, testutil.Root)
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv(t.TempDir())
	src := newRoot(t)
	mustRun(t, env, "", src, "load", "-q", "-i", filepath.Join(td, "busybox", "busybox-1.38.0-musl-oci"))
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	mustRun(t, env, "", src, "save", "-o", archive, "busybox:1.38.0-musl")

	for _, tt := range []struct{ name, small, roomy string }{
		{"space", "size=1m", "size=16m"},
		{"inodes", "size=16m,nr_inodes=12", "nr_inodes=1000"},
	} {
		t.Run("load/"+tt.name, func(t *testing.T) {
			dir, remount := smallTmpfs(t, tt.small)
			root := filepath.Join(dir, "root")
			r := run(t, env, "", root, "load", "-q", "-i", archive)
			if msg := strings.TrimSpace(r.Stderr); r.Code == 0 || msg == "" || strings.Contains(msg, "\n") {
				t.Fatalf("load onto a small disk: exit %d, stderr %q, want one line and a failure", r.Code, r.Stderr)
			}
			if out := run(t, env, "", root, "images", "-q"); strings.TrimSpace(out.Stdout) != "" {
				t.Errorf("images after a failed load = %q, want none", out.Stdout)
			}
			if ents, _ := filepath.Glob(filepath.Join(root, ".load*")); len(ents) != 0 {
				t.Errorf("staging left behind: %v", ents)
			}
			remount(tt.roomy)
			mustRun(t, env, "", root, "load", "-q", "-i", archive)
			// The image is whole: saved again, it is the archive loaded.
			again := filepath.Join(t.TempDir(), "again.tar")
			mustRun(t, env, "", root, "save", "-o", again, "busybox:1.38.0-musl")
		})
	}

	t.Run("save", func(t *testing.T) {
		dir, _ := smallTmpfs(t, "size=256k")
		for _, format := range []string{"docker-archive", "oci-archive", "oci-dir"} {
			out := filepath.Join(dir, "out")
			r := run(t, env, "", src, "save", "--format", format, "-o", out, "busybox:1.38.0-musl")
			if msg := strings.TrimSpace(r.Stderr); r.Code == 0 || !strings.Contains(msg, "no space left") || strings.Contains(msg, "\n") {
				t.Errorf("save --format %s to a full disk: exit %d, stderr %q, want one line saying no space left", format, r.Code, r.Stderr)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("save --format %s to a full disk left %v", format, ents)
			}
		}
	})
}
