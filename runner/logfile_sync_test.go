package runner

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCompressRotatedSyncs: the gzip of log.json.1 is fsynced before its rename, and the
// dir after it, before log.json.1 is removed: a crash could lose the rotated file, renamed
// and its plain one removed with its data not on disk yet.
func TestCompressRotatedSyncs(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, logFile)
	src, dst := rotatedName(name, 1, false), rotatedName(name, 1, true)
	if err := os.WriteFile(src, []byte(`{"log":"hi\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}`+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	var synced []string
	defer func(old func(*os.File) error) { logSync = old }(logSync)
	logSync = func(f *os.File) error {
		switch {
		case f.Name() == dst+logTmpSuffix && !exists(dst) && exists(src):
			synced = append(synced, "gzip")
		case f.Name() == dir && exists(dst) && exists(src):
			synced = append(synced, "dir")
		default:
			synced = append(synced, "out of order: "+f.Name())
		}
		return f.Sync()
	}
	if err := compressRotated(name); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 2 || synced[0] != "gzip" || synced[1] != "dir" {
		t.Errorf("fsyncs: %q, want the gzip before its rename, then the dir before log.json.1's removal", synced)
	}
	if exists(src) || !exists(dst) {
		t.Errorf("after compressRotated: log.json.1 there %v, log.json.1.gz %v", exists(src), exists(dst))
	}
}
