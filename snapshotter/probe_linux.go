package snapshotter

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/strata-run/strata/internal/safefile"
	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// probeOverlay mounts a two-lower overlay with an upper inside root, the filesystem that
// will hold layer dirs and (usually) container dirs: overlay may work on /tmp and still
// refuse an upperdir on, say, an overlay root or NFS.
func probeOverlay(root string) (err error) {
	dir, err := os.MkdirTemp(root, ".probe-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	for _, d := range []string{"l1", "l2", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}
	merged := filepath.Join(dir, "merged")
	m := mount.Mount{Type: "overlay", Source: "overlay", Options: []string{
		// Escaped as Prepare escapes them: a colon in root's path would split a lowerdir.
		"lowerdir=" + escapeLowerdir(filepath.Join(dir, "l2")) + ":" + escapeLowerdir(filepath.Join(dir, "l1")),
		"upperdir=" + filepath.Join(dir, "upper"),
		"workdir=" + filepath.Join(dir, "work"),
	}}
	if err := m.Mount(merged); err != nil {
		return err
	}
	return mount.Unmount(merged, unix.MNT_DETACH)
}

// probeMarker records that overlay mounted on the filesystem holding root, so that later
// strata processes skip the probe mount (about a millisecond idle, far more on a busy disk,
// on every `strata run`). It names the device the probe ran on: a root moved to another
// filesystem probes again.
const probeMarker = ".overlay-ok"

// probeOverlayCached is probeOverlay, remembered per filesystem in root/.overlay-ok.
func probeOverlayCached(root string) error {
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		return err
	}
	want := fmt.Sprintf("dev=%d\n", st.Dev)
	marker := filepath.Join(root, probeMarker)
	// Read without blocking and never through a symlink: a FIFO put in its place blocked
	// open(2) of every later strata for good (no signal but SIGKILL ends that).
	if b, err := safefile.Read(marker, os.O_RDONLY|safefile.NoFollow, 64); err == nil && string(b) == want {
		return nil
	}
	if err := probeOverlay(root); err != nil {
		return err
	}
	// A lost marker only costs the next process a probe: no fsync needed. The rename
	// replaces whatever was there but a directory.
	tmp := marker + ".tmp-" + strconv.Itoa(os.Getpid())
	f, err := safefile.Open(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|safefile.NoFollow, 0o600)
	if err != nil {
		return nil
	}
	_, werr := f.Write([]byte(want))
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(tmp)
		return nil
	}
	if err := os.Rename(tmp, marker); err != nil {
		os.Remove(tmp)
	}
	return nil
}
