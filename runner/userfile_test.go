package runner

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/safefile"
)

// TestReadUserFileAnyType: an --env-file or a seccomp profile had to be a regular file, so
// `--env-file <(echo A=1)` (a /dev/fd/N pipe), a FIFO and /dev/null failed with "not a
// regular file", where docker opens whatever the user names. They are read now; an endless
// device stops at the limit, and a directory or a missing file is still an error.
func TestReadUserFileAnyType(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("A=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	// A pipe as a shell's <(…) gives it: /dev/fd/N of its read end.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.WriteString("P=1\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	devfd := "/dev/fd/" + strconv.Itoa(int(r.Fd()))

	for _, tt := range []struct {
		name, path, want string
	}{
		{"regular", file, "A=1\n"},
		{"symlink", link, "A=1\n"},
		{"pipe by /dev/fd", devfd, "P=1\n"},
		{"char device", "/dev/null", ""},
	} {
		got, err := ReadUserFile(tt.path, 1<<20)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: ReadUserFile(%s) = %q, %v, want %q", tt.name, tt.path, got, err, tt.want)
		}
	}

	// A FIFO is read once its writer has written and closed, as docker reads it.
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.WriteString("F=1\n")
			f.Close()
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if got, err := ReadUserFile(fifo, 1<<20); err != nil || string(got) != "F=1\n" {
			t.Errorf("ReadUserFile(fifo) = %q, %v, want F=1", got, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ReadUserFile(fifo) with a writer did not return")
	}

	// An endless device and a regular file over the limit: ErrTooBig, not a read forever.
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2000), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/dev/zero", big} {
		if _, err := ReadUserFile(p, 1000); !errors.Is(err, safefile.ErrTooBig) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ReadUserFile(%s, 1000) = %v, want one line wrapping ErrTooBig", p, err)
		}
	}
	for _, tt := range []struct{ path, want string }{
		{dir, "is a directory"},
		{filepath.Join(dir, "missing"), "no such file or directory"},
	} {
		if _, err := ReadUserFile(tt.path, 1000); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadUserFile(%s) = %v, want %q", tt.path, err, tt.want)
		}
	}
}

// TestMergeEnvSpecialFiles: MergeEnv reads an env file given as /dev/fd/N (process
// substitution) or /dev/null, which it refused; /dev/zero is refused in one line.
func TestMergeEnvSpecialFiles(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.WriteString("A=1\n")
	w.Close()
	got, err := MergeEnv(nil, nil, []string{"/dev/fd/" + strconv.Itoa(int(r.Fd())), "/dev/null"})
	if err != nil || !slices.Equal(got, []string{"A=1"}) {
		t.Errorf("MergeEnv(--env-file /dev/fd/N --env-file /dev/null) = %q, %v, want [A=1]", got, err)
	}
	_, err = MergeEnv(nil, nil, []string{"/dev/zero"})
	if err == nil || !strings.HasPrefix(err.Error(), `reading env file "/dev/zero": file too big`) {
		t.Errorf("MergeEnv(--env-file /dev/zero) = %v, want file too big", err)
	}
}

// TestMergeEnvByteOrderMark: a UTF-8 byte-order mark opening an env file was kept in the
// first variable's name ("\ufeffBOM=1"); docker's parseKeyValueFile strips it, on the first
// line only, and skips any leading Unicode whitespace of a line, as here.
func TestMergeEnvByteOrderMark(t *testing.T) {
	f := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(f, []byte("\ufeffBOM=1\n\ufeffSECOND=2\n\v\u00a0THIRD=3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := MergeEnv(nil, nil, []string{f})
	want := []string{"BOM=1", "\ufeffSECOND=2", "THIRD=3"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("MergeEnv(BOM file) = %q, %v, want %q", got, err, want)
	}
}
