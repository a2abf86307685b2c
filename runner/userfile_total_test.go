package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/safefile"
)

// TestUserFilesTotalBounded: every file a command names is kept once read (a FIFO cannot be
// read again), so one 16 MiB env file named by thirty spellings (f, ./f, .//f …) held 30
// copies, 1 GB, and hundreds would take the host's memory. What one process reads of them
// together is bounded: past it, the file is refused in one line, as too big, and MergeEnv
// stops there.
func TestUserFilesTotalBounded(t *testing.T) {
	// What earlier tests read counts too: this one starts from nothing, with a small bound.
	userFilesMu.Lock()
	max, read := maxUserFilesTotal, userFilesRead
	maxUserFilesTotal, userFilesRead = 1000, 0
	userFilesMu.Unlock()
	defer func() {
		userFilesMu.Lock()
		maxUserFilesTotal, userFilesRead = max, read+userFilesRead
		userFilesMu.Unlock()
	}()
	dir := t.TempDir()
	f := filepath.Join(dir, "env")
	if err := os.WriteFile(f, []byte(strings.Repeat("A=1\n", 100)), 0o644); err != nil { // 400 bytes
		t.Fatal(err)
	}
	var files []string
	for i := range 4 {
		files = append(files, dir+strings.Repeat("/.", i+1)+"/env")
	}
	_, err := MergeEnv(nil, nil, files)
	want := `reading env file "` + files[2] + `": file too big`
	if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("MergeEnv(one 400-byte file named 4 ways, 1000 bytes allowed) = %v, want one line starting %s", err, want)
	}
	if !errors.Is(err, safefile.ErrTooBig) {
		t.Errorf("MergeEnv = %v, want it to wrap safefile.ErrTooBig", err)
	}
	// The two read before the bound still read as they did.
	if got, err := ReadUserFile(files[0], maxEnvFile); err != nil || len(got) != 400 {
		t.Errorf("ReadUserFile(%s) again = %d bytes, %v; want the 400 read first", files[0], len(got), err)
	}
}
