package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// NotOwnDirError says that a directory a store keeps its files in is a symlink, or no
// directory at all.
type NotOwnDirError struct {
	Path string
	// Owner is whose directories they are, as the error names it: "the store".
	Owner   string
	Symlink bool
}

func (e *NotOwnDirError) Error() string {
	if e.Symlink {
		return fmt.Sprintf("%s is a symlink: %s's directories must be its own (move what it points to there instead)", e.Path, e.Owner)
	}
	return fmt.Sprintf("%s is not a directory", e.Path)
}

// OwnDirs refuses, with a *NotOwnDirError, any of dirs that is a symlink or not a directory:
// through such a link a store's downloads, locks and removals went to wherever it pointed. A
// missing one holds nothing and passes; one that cannot be read is Lstat's error.
func OwnDirs(owner string, dirs ...string) error {
	for _, d := range dirs {
		fi, err := os.Lstat(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir() {
			return &NotOwnDirError{Path: d, Owner: owner, Symlink: fi.Mode()&fs.ModeSymlink != 0}
		}
	}
	return nil
}
