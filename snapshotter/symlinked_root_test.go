package snapshotter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
)

// TestNewRefusesSymlinkedDirs: a layer store whose .locks dir is a symlink is refused in one
// line: through it every layer's lock file was made and opened for writing wherever it
// pointed. (The root itself may be a link: TestNewTightensRoot.)
func TestNewRefusesSymlinkedDirs(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	for _, which := range []string{locksDir} {
		t.Run(which, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "snapshots")
			if _, err := New(root, Options{Driver: VFS}); err != nil {
				t.Fatal(err)
			}
			own := filepath.Join(root, which)
			elsewhere := filepath.Join(t.TempDir(), "elsewhere")
			if err := os.Rename(own, elsewhere); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, own); err != nil {
				t.Fatal(err)
			}
			_, err := New(root, Options{Driver: VFS})
			if err == nil || !strings.Contains(err.Error(), "symlink") || strings.Contains(err.Error(), "\n") {
				t.Errorf("New with %s a symlink = %v, want one line refusing it", which, err)
			}
		})
	}
}
