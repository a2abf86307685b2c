package runner

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestTmpfsOptionsMount pins that what ParseTmpfs accepts, the kernel (tmpfs, through the
// init's mount step) accepts too: a --tmpfs passing the parse must not fail at start with
// "invalid argument". Mount flags such as noatime are no tmpfs data, which is why ParseTmpfs
// refuses them while userMountStep would pass them as data.
func TestTmpfsOptionsMount(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	dir := t.TempDir()
	errs := make(chan string, len(tmpfsAccepted)+1)
	go func() {
		// The thread gets its own mount namespace and is never unlocked, so it ends with
		// this goroutine and its mounts go with it.
		runtime.LockOSThread()
		defer close(errs)
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errs <- "unshare: " + err.Error()
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errs <- "making / private: " + err.Error()
			return
		}
		for _, o := range tmpfsAccepted {
			if strings.HasPrefix(o, "mpol=") && o != "mpol=default" {
				continue // a node list must name the machine's NUMA nodes
			}
			m, err := ParseTmpfs("/x:" + o)
			if err != nil {
				errs <- err.Error()
				continue
			}
			s := userMountStep(m)
			if err := unix.Mount(s.Source, dir, s.FSType, s.Flags, s.Data); err != nil {
				errs <- "mount -o " + o + " (data " + strconv.Quote(s.Data) + "): " + err.Error()
				continue
			}
			if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
				errs <- "unmount: " + err.Error()
			}
		}
	}()
	for e := range errs {
		t.Error(e)
	}
}
