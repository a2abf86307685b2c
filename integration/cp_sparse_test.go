package integration

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCpExportSparse: a container's sparse file of 1 GiB (two runs of data) goes out by cp
// to a host dir and to stdout, and by export, as its data: a few KiB of tar each (sparse
// entries), the host's copy with its holes; a host sparse file copied in lands in the
// container's writable layer with its holes. Each of them wrote or read the whole 1 GiB of
// zeros, as docker's cp and export do.
func TestCpExportSparse(t *testing.T) {
	root := busyboxRoot(t)
	mustStrata(t, root, "run", "--name", "sp", "busybox:1.38.0-musl", "sh", "-c",
		"truncate -s 1G /big && echo start | dd of=/big conv=notrunc 2>/dev/null && echo end | dd of=/big bs=1M seek=1000 conv=notrunc 2>/dev/null")
	const size = 1 << 30
	dir := t.TempDir()
	holes := func(p string) {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Size != size || st.Blocks*512 > 1<<20 {
			t.Errorf("%s: %d bytes in %d blocks of 512, want %d bytes, mostly holes", p, st.Size, st.Blocks, size)
		}
	}
	probe := filepath.Join(dir, "probe")
	if f, err := os.Create(probe); err == nil {
		f.Truncate(size)
		f.Close()
		var st unix.Stat_t
		if unix.Stat(probe, &st) != nil || st.Blocks*512 >= size {
			t.Skipf("skipping: %s keeps no holes", dir)
		}
	}

	mustStrata(t, root, "cp", "sp:/big", filepath.Join(dir, "big"))
	holes(filepath.Join(dir, "big"))
	f, err := os.Open(filepath.Join(dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	start, end := make([]byte, 6), make([]byte, 4)
	f.ReadAt(start, 0)
	f.ReadAt(end, 1000<<20)
	f.Close()
	if string(start) != "start\n" || string(end) != "end\n" {
		t.Errorf("cp out: %q at 0, %q at 1000 MiB", start, end)
	}

	if out := mustStrata(t, root, "cp", "sp:/big", "-").Stdout; len(out) > 64<<10 {
		t.Errorf("cp sp:/big -: %d bytes of tar, want a few KiB", len(out))
	}
	tarball := filepath.Join(dir, "export.tar")
	mustStrata(t, root, "export", "-o", tarball, "sp")
	if fi, err := os.Stat(tarball); err != nil || fi.Size() > 16<<20 {
		t.Errorf("export: %v, %v; want busybox and a few KiB", fi.Size(), err)
	}

	mustStrata(t, root, "cp", filepath.Join(dir, "big"), "sp:/copy")
	id := mustStrata(t, root, "inspect", "-f", "{{.Id}}", "sp").Stdout
	holes(filepath.Join(root, "containers", id[:len(id)-1], "upper", "copy"))
}
