package archive

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gofrs/flock"
)

// stagingPrefix names the directories a Load stages a tar stream in.
const stagingPrefix = ".load-"

// stagingDir makes a staging directory in parent and locks it for as long as the load runs.
// A directory whose lock is free belongs to a load that was killed: it is removed here, so a
// crash costs disk only until the next load. The returned func unlocks and removes the dir.
func stagingDir(parent string) (dir string, done func() error, err error) {
	removeAbandoned(parent)
	dir, err = os.MkdirTemp(parent, stagingPrefix)
	if err != nil {
		return "", nil, err
	}
	l := flock.New(filepath.Join(dir, ".lock"))
	if err := l.Lock(); err != nil {
		return "", nil, errors.Join(fmt.Errorf("locking %s: %w", dir, err), os.RemoveAll(dir))
	}
	return dir, func() error {
		// Removed first, unlocked last: no other load may see it unlocked while it exists.
		return errors.Join(os.RemoveAll(dir), l.Unlock())
	}, nil
}

// removeAbandoned removes the staging dirs in parent no running load holds. Errors are
// ignored: leftovers cost disk, not correctness, and the next load tries again.
func removeAbandoned(parent string) {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), stagingPrefix) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		l := flock.New(filepath.Join(dir, ".lock"))
		ok, err := l.TryLock()
		if err != nil || !ok {
			continue
		}
		os.RemoveAll(dir)
		l.Unlock()
	}
}
