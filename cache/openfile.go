package cache

import (
	"errors"
	"fmt"
	"os"

	"github.com/strata-run/strata/internal/safefile"
)

// errNotRegular is returned for a store file (index.json, a blob) that is a FIFO, device or
// directory.
var errNotRegular = safefile.ErrNotRegular

// openRegular opens path for reading, refusing anything but a regular file (a symlink too: a
// store file is never one, and one made there would serve a host file). Without blocking:
// every strata command opens index.json, and a FIFO there hung them all, past SIGTERM.
func openRegular(path string) (*os.File, error) {
	f, err := safefile.Open(path, os.O_RDONLY|safefile.NoFollow, 0)
	if errors.Is(err, errNotRegular) {
		return nil, fmt.Errorf("%w; remove it", err)
	}
	return f, err
}
