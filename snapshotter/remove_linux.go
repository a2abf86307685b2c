package snapshotter

import (
	"fmt"
	"os"

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
