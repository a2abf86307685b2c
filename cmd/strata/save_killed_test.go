package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSaveKilledLeavesNothing: a save -o killed while it writes (SIGKILL, or a SIGHUP strata
// does not catch) leaves no file beside the output. Its temp file was named from the start
// (.x.tar.tmp-N) and stayed behind, hidden and as large as the archive had got. The save runs
// in a child (this test binary, re-run) that writes half an archive and waits to be killed.
func TestSaveKilledLeavesNothing(t *testing.T) {
	if dir := os.Getenv("STRATA_TEST_SAVE_KILLED"); dir != "" {
		writeFileAtomic(filepath.Join(dir, "x.tar"), func(w io.Writer) error {
			if _, err := io.WriteString(w, strings.Repeat("half an archive ", 1<<12)); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, "..", "written"), nil, 0o644); err != nil {
				return err
			}
			time.Sleep(time.Minute)
			return nil
		})
		os.Exit(0)
	}
	for _, existing := range []bool{false, true} {
		name := "new file"
		if existing {
			name = "over a file"
		}
		t.Run(name, func(t *testing.T) {
			top := t.TempDir()
			dir := filepath.Join(top, "out")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if !hasTmpfile(dir) {
				t.Skip("no O_TMPFILE on this filesystem: the temp file is named")
			}
			if existing {
				if err := os.WriteFile(filepath.Join(dir, "x.tar"), []byte("old archive"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestSaveKilledLeavesNothing$")
			cmd.Env = append(os.Environ(), "STRATA_TEST_SAVE_KILLED="+dir)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer cmd.Process.Kill()
			deadline := time.Now().Add(30 * time.Second)
			for {
				if _, err := os.Stat(filepath.Join(top, "written")); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the child never wrote its half archive")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			want := []string{}
			if existing {
				want = []string{"x.tar"}
			}
			names, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range names {
				got = append(got, n.Name())
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("after the killed save the directory holds %q, want %q", got, want)
			}
			if existing {
				if b, _ := os.ReadFile(filepath.Join(dir, "x.tar")); string(b) != "old archive" {
					t.Errorf("the file the killed save was to replace holds %.20q", b)
				}
			}
		})
	}
}

// TestSaveUnnamedTempResult: a save through an O_TMPFILE file ends as a regular file of mode
// 0644 holding the archive, over an old file or not, and leaves nothing else.
func TestSaveUnnamedTempResult(t *testing.T) {
	dir := t.TempDir()
	if !hasTmpfile(dir) {
		t.Skip("no O_TMPFILE on this filesystem")
	}
	out := filepath.Join(dir, "x.tar")
	for _, content := range []string{"first archive", "second archive"} {
		if err := writeFileAtomic(out, func(w io.Writer) error {
			_, err := io.WriteString(w, content)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(out)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
			t.Errorf("the archive has mode %v, want a regular file of 0644", fi.Mode())
		}
		if b, _ := os.ReadFile(out); string(b) != content {
			t.Errorf("the archive holds %q, want %q", b, content)
		}
		onlyEntries(t, dir, "x.tar")
	}
}

// hasTmpfile reports whether dir's filesystem makes O_TMPFILE files.
func hasTmpfile(dir string) bool {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}
