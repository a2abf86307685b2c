package mount

import (
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
)

// TestMountsLongLine: a mountinfo line over 64 KiB (an overlay of hundreds of layers, its
// lowerdirs in the super options) is read, with the rest of the table: moby's parser failed
// on it with "token too long", and every unmount on the host with it.
func TestMountsLongLine(t *testing.T) {
	lower := strings.Repeat("/var/lib/strata/snapshots/"+strings.Repeat("a", 64)+":", 1200)
	table := "22 1 0:21 / /proc rw,relatime - proc proc rw\n" +
		"600 22 0:99 / /var/lib/strata/containers/c/rootfs rw,relatime - overlay overlay rw,lowerdir=" + lower + "upperdir=/u,workdir=/w\n" +
		"601 600 0:100 / /var/lib/strata/containers/c/rootfs/dev rw - tmpfs tmpfs rw\n"
	if len(table) < 100<<10 {
		t.Fatalf("the test table is only %d bytes", len(table))
	}
	if _, err := mountinfo.GetMountsFromReader(strings.NewReader(table), nil); err == nil {
		t.Log("moby's parser reads lines over 64 KiB now; Mounts' cut may go")
	}
	infos, err := mountsFrom([]byte(table), mountinfo.PrefixFilter("/var/lib/strata/containers/c"))
	if err != nil {
		t.Fatalf("mountsFrom = %v", err)
	}
	if len(infos) != 2 || infos[0].Mountpoint != "/var/lib/strata/containers/c/rootfs" || infos[0].FSType != "overlay" || infos[1].Mountpoint != "/var/lib/strata/containers/c/rootfs/dev" {
		t.Fatalf("mountsFrom = %+v, want the overlay and its dev", infos)
	}
	if n := len(infos[0].VFSOptions); n > keptSuperOptions {
		t.Errorf("the overlay's super options kept %d bytes, want at most %d", n, keptSuperOptions)
	}
	// Short lines pass as they are.
	short := "22 1 0:21 / /proc rw,relatime - proc proc rw,hidepid=2\n"
	infos, err = mountsFrom([]byte(short), nil)
	if err != nil || len(infos) != 1 || infos[0].VFSOptions != "rw,hidepid=2" {
		t.Errorf("mountsFrom(short) = %+v, %v", infos, err)
	}
}
