package integration

import (
	"archive/tar"
	"fmt"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestDeepImagePaths runs images whose WORKDIR and VOLUMEs are as deep as a path can be, or
// lead through a symlink loop. strata looked every prefix of such a path up from the root of
// the image's merged view: a WORKDIR of 2046 components under --read-only spun for over 12
// minutes, deaf to Ctrl-C, and 1000 nested VOLUMEs did not end in 2 minutes. Each now ends
// (the harness's timeout bounds it), and the loop is told in one line naming the VOLUME
// and no path of strata's.
func TestDeepImagePaths(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	t.Cleanup(func() {
		if r := strata(t, root, "ps", "-aq"); r.Stdout != "" {
			t.Errorf("containers left: %q", r.Stdout)
		}
	})

	t.Run("a WORKDIR of 2046 components under --read-only", func(t *testing.T) {
		const ref = "deep/workdir:1"
		wd := strings.Repeat("/a", 2046)
		loadConfigImage(t, root, ref, nil, nil, func(c *v1.Config) { c.WorkingDir = wd })
		r := strata(t, root, "run", "--rm", "--read-only", ref, "sh", "-c", "pwd | wc -c")
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != "4093" {
			t.Errorf("run --read-only: exit %d, stdout %q, stderr %.300q; want 4093 (pwd's bytes)", r.Code, r.Stdout, r.Stderr)
		}
	})

	t.Run("nested VOLUMEs", func(t *testing.T) {
		// Fewer under --read-only, which TestNestedVolumesReadOnly runs at 1000 levels:
		// this one only checks that the deep paths work.
		for _, tc := range []struct {
			n    int
			args []string
		}{{1000, nil}, {200, []string{"--read-only"}}} {
			ref := fmt.Sprintf("deep/volumes:%d", tc.n)
			var volumes []string
			for i := 1; i <= tc.n; i++ {
				volumes = append(volumes, strings.Repeat("/a", i))
			}
			loadVolumeImage(t, root, ref, nil, nil, volumes...)
			args := append(append([]string{"run", "--rm"}, tc.args...), ref, "sh", "-c", "grep -c ' /a' /proc/self/mountinfo")
			r := strata(t, root, args...)
			if r.Code != 0 || strings.TrimSpace(r.Stdout) != strconv.Itoa(tc.n) {
				t.Errorf("run %v: exit %d, stdout %q, stderr %.300q; want %d volume mounts", tc.args, r.Code, r.Stdout, r.Stderr, tc.n)
			}
		}
	})

	t.Run("a VOLUME on a symlink loop", func(t *testing.T) {
		const ref = "deep/loop:1"
		loadConfigImage(t, root, ref, []tar.Header{
			{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "l", Mode: 0o777},
		}, nil, func(c *v1.Config) { c.Volumes = map[string]struct{}{"/l": {}} })
		for _, args := range [][]string{{"run", "--rm"}, {"run", "--rm", "--read-only"}} {
			r := strata(t, root, append(args, ref, "true")...)
			checkRefused(t, strings.Join(args, " "), r, 125, "/l: too many levels of symbolic links")
			if strings.Contains(r.Stderr, "union") || strings.Contains(r.Stderr, root) {
				t.Errorf("%s: stderr %q names a path strata made", strings.Join(args, " "), r.Stderr)
			}
		}
	})
}
