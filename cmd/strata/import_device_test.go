package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportNoTarballPath: import of a device (/dev/zero, /dev/null), a directory or a
// socket fails at once in one line that says what the path is, before anything is read or
// stored: /dev/zero was read without end (zeros end a tar at once, and what follows is hashed
// into the layer), up to the 64 GiB a layer may take (here the 1 MiB STRATA_MAX_LAYER_SIZE
// gives, so that the test fails quickly without the check). docker's CLI opens any path and
// streams it; its daemon never ends on /dev/zero either.
func TestImportNoTarballPath(t *testing.T) {
	t.Setenv("STRATA_MAX_LAYER_SIZE", "1048576")
	root := t.TempDir()
	dir := t.TempDir()
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tt := range []struct{ path, want string }{
		{"/dev/zero", "importing /dev/zero: is a character device, not a tarball"},
		{"/dev/null", "importing /dev/null: is a character device, not a tarball"},
		{dir, "importing " + dir + ": is a directory, not a tarball"},
		{sock, "importing " + sock + ": is a socket, not a tarball"},
	} {
		_, err := strata(t, root, nil, "import", tt.path, "x:y")
		if err == nil || err.Error() != tt.want {
			t.Errorf("import %s = %v, want %q", tt.path, err, tt.want)
		}
	}
	if out, err := strata(t, root, nil, "images", "-q"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("images -q = %q, %v; want no image stored", out, err)
	}
}
