package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLookPathSkipsWhatCannotRun checks the command search of the init and of exec's helper
// against runc's exec.LookPath, whose answer docker turns into a status: in $PATH only an
// executable file counts, so a name whose every candidate is a file without its x bit or a
// directory is 127 "executable file not found in $PATH" (docker's message for an ENTRYPOINT
// ["docker-entrypoint.sh"] copied without chmod +x), never 126 "permission denied", which a
// path with a slash still gets.
func TestLookPathSkipsWhatCannotRun(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	for _, f := range []struct {
		dir, name string
		mode      os.FileMode
	}{
		{first, "script", 0o644}, {first, "both", 0o644}, {second, "both", 0o755},
	} {
		if err := os.WriteFile(filepath.Join(f.dir, f.name), []byte("#!/bin/sh\n"), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(first, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + first + ":" + second}
	for _, tc := range []struct {
		file string
		code int // 0: found, as want
		want string
	}{
		{"script", ExitNotFound, `exec: "script": executable file not found in $PATH`},
		{"adir", ExitNotFound, `exec: "adir": executable file not found in $PATH`},
		{"both", 0, filepath.Join(second, "both")},
		{filepath.Join(first, "script"), ExitCannotInvoke, "permission denied"},
		{filepath.Join(first, "adir"), ExitCannotInvoke, "is a directory"},
	} {
		got, err := lookPath(tc.file, env)
		if tc.code == 0 {
			if err != nil || got != tc.want {
				t.Errorf("lookPath(%q) = %q, %v; want %q", tc.file, got, err, tc.want)
			}
			continue
		}
		var ec *ExitCodeError
		if !errors.As(err, &ec) || ec.Code != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lookPath(%q) = %q, %v; want status %d and %q", tc.file, got, err, tc.code, tc.want)
		}
	}
}

// TestStartLookupError: a run's command path that a file or a symlink loop stands in the way
// of is 125, as docker's CLI exits for runc's create error; missing stays 127, not runnable
// (no x bit, a directory) 126, as docker's.
func TestStartLookupError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop", filepath.Join(dir, "loop")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		code int
		want string
	}{
		{filepath.Join(dir, "file", "x"), ExitOwnError, "not a directory"},
		{filepath.Join(dir, "loop"), ExitOwnError, "too many levels of symbolic links"},
		{filepath.Join(dir, "nosuch"), ExitNotFound, "no such file or directory"},
		{filepath.Join(dir, "file"), ExitCannotInvoke, "permission denied"},
		{dir, ExitCannotInvoke, "is a directory"},
		{"nosuch", ExitNotFound, "executable file not found in $PATH"},
	} {
		_, err := lookPath(tc.file, []string{"PATH=" + dir})
		err = startLookupError(err)
		var ec *ExitCodeError
		if !errors.As(err, &ec) || ec.Code != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("startLookupError(lookPath(%q)) = %v; want status %d and %q", tc.file, err, tc.code, tc.want)
		}
		if got := errors.Is(err, errCommandPath); got != (tc.code == ExitOwnError) || (got && sentinelKind(err) != "command-path") {
			t.Errorf("%q: errors.Is(errCommandPath) = %v, kind %q", tc.file, got, sentinelKind(err))
		}
	}
}
