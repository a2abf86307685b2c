package snapshotter

import (
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// TestCopyUp fills a named volume's existing data dir from the image as PopulateVolume fills
// a new one (owner and mode of the dir, setuid, xattrs, symlinks never followed, hard links,
// whiteouts), with each driver; a path the image lacks leaves it as it is, a file is refused,
// and no temp dir stays beside it.
func TestCopyUp(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			outside := filepath.Join(base, "outside")
			if err := os.Mkdir(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			bottom, top := volumeImage(t, outside, 2)
			unpack(t, s, bottom)
			unpack(t, s, top)
			diffIDs := []v1.Hash{bottom.diffID, top.diffID}
			cdir := filepath.Join(base, "containers", "c1")
			if _, err := s.Prepare(t.Context(), cdir, diffIDs, false); err != nil {
				t.Fatal(err)
			}
			vol := filepath.Join(base, "volumes", "v")
			data := filepath.Join(vol, "_data")
			if err := os.MkdirAll(data, 0o755); err != nil {
				t.Fatal(err)
			}
			var before unix.Stat_t
			unix.Stat(data, &before)
			copied, err := s.CopyUp(t.Context(), cdir, diffIDs, "/srv", data)
			if err != nil || !copied {
				t.Fatalf("CopyUp(/srv) = %v, %v", copied, err)
			}
			checkSrvVolume(t, data, s, bottom)
			var after unix.Stat_t
			unix.Stat(data, &after)
			if after.Ino != before.Ino {
				t.Error("CopyUp replaced the data dir: a container mounting it would not see the copy")
			}
			if names, _ := os.ReadDir(outside); len(names) != 0 {
				t.Errorf("outside dir holds %v", names)
			}
			if ents, _ := os.ReadDir(vol); len(ents) != 1 {
				t.Errorf("volume dir holds %v; want _data alone", ents)
			}

			other := filepath.Join(base, "volumes", "w", "_data")
			os.MkdirAll(other, 0o711)
			os.Chmod(other, 0o711)
			if copied, err := s.CopyUp(t.Context(), cdir, diffIDs, "/missing", other); err != nil || copied {
				t.Errorf("CopyUp(/missing) = %v, %v; want nothing copied", copied, err)
			}
			wantStat(t, other, unix.S_IFDIR|0o711, 0, 0)
			if _, err := s.CopyUp(t.Context(), cdir, diffIDs, "/etc/conf", other); err == nil {
				t.Error("CopyUp of a file: nil error")
			}
			if ents, _ := os.ReadDir(filepath.Dir(other)); len(ents) != 1 {
				t.Errorf("volume dir after a failed copy holds %v", ents)
			}
		})
	}
}
