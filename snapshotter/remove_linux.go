package snapshotter

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-run/strata/internal/rmtree"
)

// removeAll is os.RemoveAll, falling back to removeDeep where that fails: os.RemoveAll keeps a
// directory open per level, and a container can nest directories deeper than a process may
// open files (25,000 levels failed `strata rm` for good, with an error holding the whole path),
// as a layer can (some 1,900 levels within PATH_MAX, past a limit of 1,024 open files: its
// layer dir could not be pruned, nor a failed unpack's half, nor a whited-out copy of it in a
// vfs rootfs). Every tree strata deletes goes through it: container dirs, and layer dirs and
// their temporary dirs under the layer's lock, where nothing renames either.
func removeAll(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	return removeDeep(p)
}

// removeDeep removes the tree at dir with rmtree, which holds two directory handles at most:
// it goes down by name and back up by "..", which is sound in a container dir, where nothing
// renames once the container and its mounts are gone, and in a layer dir under its lock.
func removeDeep(dir string) error {
	if err := rmtree.Remove(dir); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}

// readDir is os.ReadDir; tests count the listings of a root through it.
var readDir = os.ReadDir

// withPrefix lists the entries of dir whose names start with prefix, as paths. It reads the
// dir, where filepath.Glob(filepath.Join(dir, prefix+"*")) reads dir as a pattern too: a store
// whose path holds a '[' failed every unpack and removal ("syntax error in pattern"), and one
// under "/s[ab]" had what was left in /sa and /sb removed as its own. As Glob, it says nothing
// of a dir it cannot read (missing, or no dir): there is nothing to list.
func withPrefix(dir, prefix string) []string {
	ents, _ := readDir(dir)
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}
