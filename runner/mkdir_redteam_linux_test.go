package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestApplyMkdirDeep: the working directory is found, and made, by a walk of descriptors, in
// time linear in its depth. Found by path (securejoin), each component walked the path
// again: an image's WORKDIR of 2046 components took 5.6 s of the container's start. The
// dirs exist already, so that what is timed is the walk, not the filesystem's mkdir, and the
// times of 200 and 2000 components are compared, the best of five each, so that a loaded
// machine slows both alike: 10 times the components may take 30 times as long, where the
// walk by path took 80 (0.3 s for 2000).
func TestApplyMkdirDeep(t *testing.T) {
	best := func(n int) time.Duration {
		dir := t.TempDir()
		t.Chdir(dir) // the init works from inside the root, by relative paths
		deep := strings.Repeat("d/", n)
		if err := os.MkdirAll(deep, 0o755); err != nil {
			t.Fatal(err)
		}
		var min time.Duration
		for range 5 {
			a := newPlanApplier(dir)
			a.base = "."
			start := time.Now()
			err := a.apply([]Step{{Op: OpMkdir, Target: "/" + deep + "new"}})
			d := time.Since(start)
			a.close()
			if err != nil {
				t.Fatalf("apply(mkdir of %d components) = %v", n, err)
			}
			if err := os.Remove(deep + "new"); err != nil {
				t.Fatal(err)
			}
			if min == 0 || d < min {
				min = d
			}
		}
		return min
	}
	short, long := best(200), best(2000)
	if long > 30*short+5*time.Millisecond {
		t.Errorf("mkdir of 2000 components took %v, of 200 %v: more than 30 times as long", long, short)
	}
}

// TestApplyMkdirLinks: the walk by descriptors hands over to the one through the image's
// symlinks at the first link, which leads inside the root, a dangling one too; a file on the
// way, or a path longer than the kernel's, is refused.
func TestApplyMkdirLinks(t *testing.T) {
	rootfs := t.TempDir()
	for _, d := range []string{"etc", "a"} {
		if err := os.Mkdir(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, to := range map[string]string{"a/l": "/etc", "w": "/nowhere/x", "up": "../../../../tmp"} {
		if err := os.Symlink(to, filepath.Join(rootfs, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc", "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		target, made, wantErr string
	}{
		{"/a/b/c", "a/b/c", ""},
		{"/a/l/sub/x", "etc/sub/x", ""},
		{"/w/y", "nowhere/x/y", ""},
		{"/up/z", "tmp/z", ""},
		{"/etc/f/x", "", "cannot mkdir: /etc/f/x is not a directory"},
		{"/etc/f", "", "cannot mkdir: /etc/f is not a directory"},
		{"/" + strings.Repeat("d/", 2100), "", "file name too long"},
	} {
		a := newPlanApplier(rootfs)
		err := a.apply([]Step{{Op: OpMkdir, Target: tt.target}})
		a.close()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("apply(mkdir %.40s) = %v", tt.target, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("apply(mkdir %.40s) = %v, want %q", tt.target, err, tt.wantErr)
		case tt.made != "":
			if st, err := os.Stat(filepath.Join(rootfs, tt.made)); err != nil || !st.IsDir() {
				t.Errorf("apply(mkdir %s) made no dir %s: %v", tt.target, tt.made, err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(rootfs, "d")); err == nil {
		t.Errorf("a path too long was made in part")
	}
}
