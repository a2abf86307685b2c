package runner

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestMergeCommand(t *testing.T) {
	str := func(s string) *string { return &s }
	// The table of docker's docs, "Understand how CMD and ENTRYPOINT interact", plus the
	// overrides of docker run.
	tests := []struct {
		name       string
		entrypoint []string
		cmd        []string
		override   *string
		args       []string
		want       []string
	}{
		{"nothing", nil, nil, nil, nil, []string{}},
		{"cmd only", nil, []string{"/bin/sh"}, nil, nil, []string{"/bin/sh"}},
		{"entrypoint only", []string{"/ep", "p1"}, nil, nil, nil, []string{"/ep", "p1"}},
		{"entrypoint and cmd", []string{"/ep", "p1"}, []string{"c1", "c2"}, nil, nil, []string{"/ep", "p1", "c1", "c2"}},
		{"args replace cmd", []string{"/ep"}, []string{"c1"}, nil, []string{"a1"}, []string{"/ep", "a1"}},
		{"args without entrypoint", nil, []string{"/bin/sh"}, nil, []string{"echo", "hi"}, []string{"echo", "hi"}},
		{"override entrypoint clears cmd", []string{"/ep"}, []string{"c1"}, str("/other"), nil, []string{"/other"}},
		{"override entrypoint with args", []string{"/ep"}, []string{"c1"}, str("/other"), []string{"a1"}, []string{"/other", "a1"}},
		{"empty entrypoint resets", []string{"/ep"}, []string{"c1"}, str(""), nil, []string{}},
		{"empty entrypoint with args", []string{"/ep"}, []string{"c1"}, str(""), []string{"ls"}, []string{"ls"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MergeCommand(tt.entrypoint, tt.cmd, tt.override, tt.args)
			if !slices.Equal(got, tt.want) {
				t.Errorf("MergeCommand(%q, %q, %v, %q) = %q, want %q", tt.entrypoint, tt.cmd, tt.override, tt.args, got, tt.want)
			}
		})
	}
}

func TestMergeEnv(t *testing.T) {
	t.Setenv("STRATA_TEST_FROM_HOST", "hostval")
	os.Unsetenv("STRATA_TEST_UNSET")
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	if err := os.WriteFile(envFile, []byte("# comment\n\nFILE=1\n  PATH=/file/bin\nSTRATA_TEST_FROM_HOST\nSPACES=a b \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badSpace, badUTF8, badNUL := filepath.Join(dir, "space"), filepath.Join(dir, "utf8"), filepath.Join(dir, "nul")
	if err := os.WriteFile(badNUL, []byte("A=1\nB=x\x00y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badSpace, []byte("A B=c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badUTF8, []byte("A=\xff\xfe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		image   []string
		flags   []string
		files   []string
		want    []string
		wantErr bool
	}{
		{"image only", []string{"PATH=/bin", "A=1"}, nil, nil, []string{"PATH=/bin", "A=1"}, false},
		{"flag overrides in place", []string{"PATH=/bin", "A=1"}, []string{"A=2", "B=3"}, nil, []string{"PATH=/bin", "A=2", "B=3"}, false},
		{"flag from host", nil, []string{"STRATA_TEST_FROM_HOST"}, nil, []string{"STRATA_TEST_FROM_HOST=hostval"}, false},
		{"flag unset on host is dropped", nil, []string{"STRATA_TEST_UNSET"}, nil, []string{}, false},
		{"flag unset on host drops the image's", []string{"A=1", "STRATA_TEST_UNSET=img", "B=2"}, []string{"STRATA_TEST_UNSET"}, nil, []string{"A=1", "B=2"}, false},
		{"dropped, then set again", []string{"STRATA_TEST_UNSET=img"}, []string{"STRATA_TEST_UNSET", "STRATA_TEST_UNSET=flag"}, nil, []string{"STRATA_TEST_UNSET=flag"}, false},
		{"empty value kept", nil, []string{"E="}, nil, []string{"E="}, false},
		{"value with equals", nil, []string{"X=a=b"}, nil, []string{"X=a=b"}, false},
		{"file then flags", []string{"PATH=/bin"}, []string{"FILE=2"}, []string{envFile},
			[]string{"PATH=/file/bin", "FILE=2", "STRATA_TEST_FROM_HOST=hostval", "SPACES=a b "}, false},
		{"empty name", nil, []string{"=x"}, nil, nil, true},
		// docker takes any -e name but an empty one; only env files refuse whitespace.
		{"flag name with a space", nil, []string{"A B=c"}, nil, []string{"A B=c"}, false},
		{"file name with a space", nil, nil, []string{badSpace}, nil, true},
		{"file not UTF-8", nil, nil, []string{badUTF8}, nil, true},
		// exec passes an env file's lines on as flags: a NUL went on to the exec, which failed
		// it as the command's (126), naming no variable.
		{"file line with a NUL", nil, nil, []string{badNUL}, nil, true},
		{"flag with a NUL", nil, []string{"B=x\x00y"}, nil, nil, true},
		{"missing file", nil, nil, []string{filepath.Join(dir, "nope")}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MergeEnv(tt.image, tt.flags, tt.files)
			if (err != nil) != tt.wantErr {
				t.Fatalf("MergeEnv() error = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("MergeEnv(%q, %q) = %q, want %q", tt.image, tt.flags, got, tt.want)
			}
		})
	}
	// A line past the bound names itself, not bufio's "token too long".
	long := filepath.Join(dir, "long")
	if err := os.WriteFile(long, []byte("A=1\nB="+strings.Repeat("x", 2<<20)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := MergeEnv(nil, nil, []string{long})
	if want := `env file "` + long + `" line 2: longer than 1048576 bytes`; err == nil || err.Error() != want {
		t.Errorf("MergeEnv(a line of 2 MB) = %v, want %s", err, want)
	}
	_, err = MergeEnv(nil, nil, []string{badNUL})
	if want := `env file "` + badNUL + `" line 2: invalid environment variable "B": contains a NUL byte`; err == nil || err.Error() != want {
		t.Errorf("MergeEnv(a line with a NUL) = %v, want %s", err, want)
	}
}

func TestWithDefaultEnv(t *testing.T) {
	got, err := withDefaultEnv([]string{"A=1"}, "host", "/root", true)
	want := []string{"A=1", "PATH=" + DefaultPath, "HOSTNAME=host", "TERM=xterm", "HOME=/root"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("withDefaultEnv = %q, %v; want %q", got, err, want)
	}
	kept := []string{"PATH=/x", "HOSTNAME=h", "HOME=/h"}
	if got, err := withDefaultEnv(kept, "host", "/root", false); err != nil || !slices.Equal(got, kept) {
		t.Errorf("withDefaultEnv(%q) = %q, %v; want it unchanged", kept, got, err)
	}
	// A home from the image's /etc/passwd with a NUL byte cannot be $HOME; unread when HOME
	// is set.
	if got, err := withDefaultEnv([]string{"A=1"}, "host", "/ro\x00ot", false); err == nil ||
		err.Error() != `the home directory in /etc/passwd, "/ro\x00ot", contains a NUL byte` {
		t.Errorf("withDefaultEnv(a home with a NUL) = %q, %v; want an error", got, err)
	}
	long := "/" + strings.Repeat("h", 32*os.Getpagesize())
	if got, err := withDefaultEnv([]string{"A=1"}, "host", long, false); err == nil ||
		!strings.Contains(err.Error(), "is over the kernel's limit of") {
		t.Errorf("withDefaultEnv(a home of %d bytes) = %.100q, %v; want an error", len(long), got, err)
	}
	if got, err := withDefaultEnv(kept, "host", "/ro\x00ot", false); err != nil || !slices.Equal(got, kept) {
		t.Errorf("withDefaultEnv(%q, a home with a NUL) = %q, %v; want it unchanged", kept, got, err)
	}
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in      string
		want    syscall.Signal
		wantErr bool
	}{
		{"TERM", syscall.SIGTERM, false},
		{"SIGKILL", syscall.SIGKILL, false},
		{"sigint", syscall.SIGINT, false},
		{"hup", syscall.SIGHUP, false},
		{"9", syscall.SIGKILL, false},
		{"SIGRTMIN", 34, false},
		{"RTMIN+3", 37, false}, // systemd's STOPSIGNAL
		{"sigrtmax-1", 63, false},
		{"RTMAX", 64, false},
		{"RTMIN+31", 0, true},
		{"RTMIN-1", 0, true},
		{"RTMAX+1", 0, true},
		{"RTMIN+", 0, true},
		{"RTMIN+003", 0, true},
		{"RTMINX", 0, true},
		{"0", 0, true},
		{"65", 0, true},
		{"", 0, true},
		{"NOPE", 0, true},
		{"-1", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSignal(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSignal(%q) = %v, %v, want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
