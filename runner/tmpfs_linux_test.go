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
// "invalid argument". Mount flags such as noatime are no tmpfs data: userMountStep makes
// them the mount's flags.
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

// TestTmpfsAtimeFlags: the access-time options docker takes on --tmpfs are the mount's flags
// (MS_NOATIME, …), never tmpfs data, which the kernel refuses.
func TestTmpfsAtimeFlags(t *testing.T) {
	for _, tt := range []struct {
		opts       string
		set, clear uintptr
	}{
		{"noatime,nodiratime", unix.MS_NOATIME | unix.MS_NODIRATIME, 0},
		{"noatime,atime", 0, unix.MS_NOATIME},
		{"strictatime", unix.MS_STRICTATIME, unix.MS_RELATIME},
		{"strictatime,relatime", unix.MS_RELATIME, unix.MS_STRICTATIME},
	} {
		m, err := ParseTmpfs("/x:size=1m," + tt.opts)
		if err != nil {
			t.Fatalf("ParseTmpfs(%s) = %v", tt.opts, err)
		}
		s := userMountStep(m)
		if s.Flags&tt.set != tt.set || s.Flags&tt.clear != 0 || strings.Contains(s.Data, "atime") {
			t.Errorf("--tmpfs /x:%s: flags %#x, data %q; want %#x set, %#x clear, no atime data", tt.opts, s.Flags, s.Data, tt.set, tt.clear)
		}
	}
}
