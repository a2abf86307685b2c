package integration

import (
	"archive/tar"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunAUFSLayer: an image whose layer docker built on its aufs storage driver, with AUFS's
// metadata at the layer's root and a hard link to one of its pseudo-links, runs, as docker
// and containerd run it: the link is the file, and no ".wh..wh." name is left in the
// container or the layer store. strata refused such layers ("whiteout meta name").
func TestRunAUFSLayer(t *testing.T) {
	requiresContainers(t)
	mtime := time.Date(2016, 5, 4, 3, 2, 1, 0, time.UTC)
	headers := []tar.Header{
		{Name: ".wh..wh.aufs", Typeflag: tar.TypeReg, Mode: 0o444, ModTime: mtime},
		{Name: ".wh..wh.orph/", Typeflag: tar.TypeDir, Mode: 0o700, ModTime: mtime},
		{Name: ".wh..wh.plnk/", Typeflag: tar.TypeDir, Mode: 0o700, ModTime: mtime},
		{Name: ".wh..wh.plnk/262.1187", Typeflag: tar.TypeReg, Mode: 0o755, ModTime: mtime},
		{Name: "usr/local/bin/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime},
		{Name: "usr/local/bin/tool", Typeflag: tar.TypeLink, Linkname: ".wh..wh.plnk/262.1187", ModTime: mtime},
		{Name: "usr/local/bin/tool2", Typeflag: tar.TypeLink, Linkname: ".wh..wh.plnk/262.1187", ModTime: mtime},
	}
	bodies := map[string]string{".wh..wh.plnk/262.1187": "from the pseudo-link\n"}
	for _, driver := range []string{"overlay", "vfs"} {
		t.Run(driver, func(t *testing.T) {
			root := newRoot(t)
			loadConfigImage(t, root, "aufs:1", headers, bodies, nil)
			r := mustStrata(t, root, "--storage-driver", driver, "run", "--rm", "aufs:1", "sh", "-c",
				"cat /usr/local/bin/tool2; stat -c %a /usr/local/bin/tool; ls -a /")
			if !strings.HasPrefix(r.Stdout, "from the pseudo-link\n755\n") || strings.Contains(r.Stdout, ".wh.") {
				t.Errorf("run: stdout %q, want the pseudo-link's content and mode, and no .wh. name in /", r.Stdout)
			}
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err == nil && strings.HasPrefix(d.Name(), ".wh..wh.") {
					t.Errorf("%s is in the store", p)
				}
				return nil
			})
		})
	}
}
