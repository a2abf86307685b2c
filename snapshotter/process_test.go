package snapshotter

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-run/strata/layers"
)

// Environment of the helper process of TestUnpackConcurrentProcesses.
const (
	helperEnv  = "STRATA_SNAPSHOTTER_HELPER"
	helperRoot = "STRATA_SNAPSHOTTER_HELPER_ROOT"
	helperFile = "STRATA_SNAPSHOTTER_HELPER_FILE"
	helperDiff = "STRATA_SNAPSHOTTER_HELPER_DIFFID"
)

// TestHelperUnpack is not a test: it is the body of a child process that unpacks one layer
// file into a shared root, started by TestUnpackConcurrentProcesses.
func TestHelperUnpack(t *testing.T) {
	if os.Getenv(helperEnv) != "unpack" {
		t.Skip("skipping: helper process body, run by TestUnpackConcurrentProcesses")
	}
	s, err := New(os.Getenv(helperRoot), Options{Driver: VFS, Layer: layers.Options{IgnoreOwners: os.Geteuid() != 0}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := v1.NewHash(os.Getenv(helperDiff))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(os.Getenv(helperFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.Unpack(t.Context(), d, gzipLayer, f); err != nil {
		t.Fatal(err)
	}
}

// TestUnpackConcurrentProcesses: strata processes share a root with no daemon; several
// unpacking one layer at once must end with one complete layer dir and no leftovers.
func TestUnpackConcurrentProcesses(t *testing.T) {
	s := newPlain(t)
	var entries []entry
	for i := range 300 {
		entries = append(entries, file("f"+strconv.Itoa(i), fmt.Sprintf("content %d", i)))
	}
	l := buildLayer(t, entries...)
	layerFile := filepath.Join(t.TempDir(), "layer.tar.gz")
	if err := os.WriteFile(layerFile, l.gz, 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 4
	cmds := make([]*exec.Cmd, n)
	outs := make([]bytes.Buffer, n)
	for i := range n {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperUnpack$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			helperEnv+"=unpack",
			helperRoot+"="+s.Root(),
			helperFile+"="+layerFile,
			helperDiff+"="+l.diffID.String())
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v\n%s", i, err, outs[i].String())
		}
	}
	if dirs := layerDirs(t, s.Root()); len(dirs) != 1 || dirs[0] != l.diffID.Hex {
		t.Errorf("layer dirs = %q, want just %s", dirs, l.diffID.Hex)
	}
	if tmps := tmpDirs(t, s.Root()); len(tmps) > 0 {
		t.Errorf("temporary dirs left: %q", tmps)
	}
	wantContent(t, filepath.Join(s.LayerDir(l.diffID), "f299"), "content 299")
}
