package runner

import (
	"os"

	"github.com/strata-run/strata/internal/safefile"
)

// ReadUserFile reads a file a user named on the command line (--env-file, a seccomp
// profile): only a regular file, at most max bytes. It is opened non-blocking, so a FIFO with
// no writer or a device fails at once instead of hanging strata.
func ReadUserFile(path string, max int64) ([]byte, error) {
	return safefile.Read(path, os.O_RDONLY, max)
}
