package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

// TestFreezeErrorEnded: a pause or unpause whose freezer file went missing because the
// container ended meanwhile (its cgroup removed between Load and Freeze) says the container
// is not running, as docker does, where it printed "pausing container …: freezing cgroup …:
// open /sys/fs/cgroup/unified/strata/<id>/cgroup.events: no such file or directory". Another
// error, or a missing file while the cgroup is still there, is passed on.
func TestFreezeErrorEnded(t *testing.T) {
	c := &Container{ID: strings.Repeat("f0", 32)} // no cgroup of that name
	gone := fmt.Errorf("freezing cgroup strata/%s: %w", c.ID, &fs.PathError{Op: "open", Path: "/sys/fs/cgroup/unified/strata/" + c.ID + "/cgroup.events", Err: fs.ErrNotExist})
	for _, what := range []string{"pausing", "unpausing"} {
		err := freezeError(c, what, gone)
		if !errors.Is(err, ErrNotRunning) || strings.Contains(err.Error(), "/sys/fs/cgroup") {
			t.Errorf("%s a container whose cgroup went: %v, want ErrNotRunning naming no cgroup file", what, err)
		}
	}
	other := errors.New("device or resource busy")
	if err := freezeError(c, "pausing", other); !errors.Is(err, other) || errors.Is(err, ErrNotRunning) || !strings.HasPrefix(err.Error(), "pausing container f0f0f0f0f0f0: ") {
		t.Errorf("freezeError of another error = %v, want it passed on after pausing container f0f0f0f0f0f0", err)
	}
}
