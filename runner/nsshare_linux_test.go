package runner

import (
	"errors"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// TestParseNSModes: --pid, --ipc and --uts take docker's values (its CLI's Valid), and refuse
// the others in one line that names the flag, as docker's "--pid: invalid PID mode".
func TestParseNSModes(t *testing.T) {
	for _, tc := range []struct {
		parse   func(string) (string, error)
		in      string
		want    string
		wantErr string
	}{
		{ParsePidMode, "", "", ""},
		{ParsePidMode, "host", "host", ""},
		{ParsePidMode, "container:web", "container:web", ""},
		{ParsePidMode, "container:", "", "--pid: invalid PID mode"},
		{ParsePidMode, "private", "", "--pid: invalid PID mode"},
		{ParsePidMode, "Host", "", "--pid: invalid PID mode"},
		{ParsePidMode, "container:a\nb", "", "--pid: invalid PID mode"},
		{ParseIpcMode, "", "", ""},
		{ParseIpcMode, "private", "private", ""},
		{ParseIpcMode, "shareable", "shareable", ""},
		{ParseIpcMode, "none", "none", ""},
		{ParseIpcMode, "host", "host", ""},
		{ParseIpcMode, "container:0123abc", "container:0123abc", ""},
		{ParseIpcMode, "bogus", "", "--ipc: invalid IPC mode"},
		{ParseUTSMode, "", "", ""},
		{ParseUTSMode, "host", "host", ""},
		{ParseUTSMode, "container:web", "", "--uts: invalid UTS mode"},
		{ParseUTSMode, "private", "", "--uts: invalid UTS mode"},
	} {
		got, err := tc.parse(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("parse(%q) = %q, %v; want one-line error %q…", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parse(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestValidateNSTargets: a Spec joins other containers by full ID only (the CLI resolves names),
// never its own, and its network may be container:ID.
func TestValidateNSTargets(t *testing.T) {
	id := strings.Repeat("ab", 32)
	other := strings.Repeat("cd", 32)
	base := Spec{ID: id, Dir: "/s/containers/" + id, Root: []mount.Mount{{Target: "/"}}, Args: []string{"true"}}
	for _, tc := range []struct {
		name    string
		edit    func(*Spec)
		wantErr bool
	}{
		{"none", func(*Spec) {}, false},
		{"pid by ID", func(s *Spec) { s.PidMode = "container:" + other }, false},
		{"network by ID", func(s *Spec) { s.Network = "container:" + other }, false},
		{"ipc by name", func(s *Spec) { s.IpcMode = "container:web" }, true},
		{"network by path", func(s *Spec) { s.Network = "container:../../etc" }, true},
		{"own", func(s *Spec) { s.PidMode = "container:" + id }, true},
	} {
		s := base
		tc.edit(&s)
		if err := s.withDefaults().validate(); (err != nil) != tc.wantErr {
			t.Errorf("%s: validate() = %v, want error %v", tc.name, err, tc.wantErr)
		}
	}
	s := base
	s.Network = "container:"
	if err := s.ValidateInput(); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ValidateInput(network container:) = %v, want ErrUnsupported", err)
	}
	for _, n := range []string{"bridge", "default", "mynet"} {
		s.Network = n
		if err := s.ValidateInput(); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "use none (only lo, the default), host, or container:NAME|ID") {
			t.Errorf("ValidateInput(network %s) = %v, want ErrUnsupported saying what works", n, err)
		}
	}
}

// TestShmSteps: /dev/shm as docker makes it for each IPC mode: a tmpfs of its own for private
// and shareable, nothing for none, the host's for host, the donor's copy for container:X.
func TestShmSteps(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		op     Op
		source string
	}{
		{"", OpMount, "shm"}, {IPCPrivate, OpMount, "shm"}, {IPCShareable, OpMount, "shm"},
		{IPCNone, "", ""}, {NSHost, OpBind, "/dev/shm"},
		{"container:" + strings.Repeat("cd", 32), OpBind, donorShmSource},
	} {
		var shm []Step
		for _, s := range plan(Spec{IpcMode: tc.mode, Root: []mount.Mount{{Target: "/"}}}) {
			if s.Target == "/dev/shm" {
				shm = append(shm, s)
			}
		}
		switch {
		case tc.op == "" && len(shm) != 0:
			t.Errorf("--ipc %q: /dev/shm steps %+v, want none", tc.mode, shm)
		case tc.op != "" && (len(shm) != 1 || shm[0].Op != tc.op || shm[0].Source != tc.source):
			t.Errorf("--ipc %q: /dev/shm steps %+v, want one %s of %s", tc.mode, shm, tc.op, tc.source)
		}
	}
}

// TestCloneFlags: the init's clone makes every namespace but those shared, and only a shape
// that joins another container keeps PrepareInit from starting its init early.
func TestCloneFlags(t *testing.T) {
	all := uintptr(unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC)
	for _, tc := range []struct {
		shape InitShape
		want  uintptr
		joins bool
	}{
		{InitShape{}, all, false},
		{InitShape{PidMode: NSHost, IpcMode: NSHost, UTSMode: NSHost}, unix.CLONE_NEWNS, false},
		{InitShape{IpcMode: IPCNone}, all, false},
		{InitShape{PidMode: "container:x"}, all &^ unix.CLONE_NEWPID, true},
		{InitShape{IpcMode: "container:x"}, all &^ unix.CLONE_NEWIPC, true},
		{InitShape{Network: "container:x"}, all, true},
	} {
		if got := tc.shape.cloneFlags(); got != tc.want {
			t.Errorf("%+v.cloneFlags() = %#x, want %#x", tc.shape, got, tc.want)
		}
		if got := tc.shape.joins(); got != tc.joins {
			t.Errorf("%+v.joins() = %v, want %v", tc.shape, got, tc.joins)
		}
	}
}
