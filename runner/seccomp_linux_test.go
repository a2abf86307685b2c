package runner

import (
	"context"
	"errors"
	"testing"

	"github.com/strata-run/strata/runner/seccomp"
)

// The compiler and its BPF are tested in runner/seccomp with an interpreter; these tests run
// the filter the init loads in real containers.

// denyMkdir is a user's profile: everything allowed but mkdir, which fails with EACCES.
const denyMkdir = `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
	{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`

func TestRunSeccomp(t *testing.T) {
	tests := []struct {
		name       string
		seccomp    string
		capAdd     []string
		privileged bool
		cmd        string
		want       string
	}{
		// unshare -U needs no capability: only the filter stops it.
		{"default refuses unshare -U with EPERM", SeccompDefault, nil, false, "unshare -U true 2>&1; true", "unshare: unshare(0x10000000): Operation not permitted"},
		// busybox words EPERM (and EACCES) from mount(2) this way.
		{"default refuses mount", SeccompDefault, nil, false, "mount -t tmpfs tmpfs /mnt 2>&1; true", "mount: permission denied (are you root?)"},
		{"default runs the usual commands", SeccompDefault, nil, false,
			"ls / >/dev/null && ps >/dev/null && date >/dev/null && mkdir /tmp/d && ln -s /tmp/d /tmp/l && rm /tmp/l && rmdir /tmp/d && " +
				"echo b a | tr ' ' '\\n' | sort | tr '\\n' ' ' && id -u && chown nobody /tmp && nice -n 5 true && wget -q -T1 -O- http://127.0.0.1:1 2>/dev/null; echo done",
			"a b 0\ndone"},
		{"default is loaded", SeccompDefault, nil, false, "grep '^Seccomp:' /proc/self/status | tr -s '\\t' ' '", "Seccomp: 2"},
		// As in Docker, CAP_SYS_ADMIN brings back the calls that need it.
		{"sys_admin allows unshare -U", SeccompDefault, []string{"SYS_ADMIN"}, false, "unshare -U true && echo allowed", "allowed"},
		{"sys_admin allows mount", SeccompDefault, []string{"SYS_ADMIN"}, false, "mount -t tmpfs tmpfs /mnt && echo mounted", "mounted"},
		{"unconfined allows unshare -U", SeccompUnconfined, nil, false, "unshare -U true && echo allowed", "allowed"},
		{"unconfined loads nothing", SeccompUnconfined, nil, false, "grep '^Seccomp:' /proc/self/status | tr -s '\\t' ' '", "Seccomp: 0"},
		{"privileged loads nothing", SeccompDefault, nil, true, "grep '^Seccomp:' /proc/self/status | tr -s '\\t' ' '", "Seccomp: 0"},
		{"profile denies mkdir", denyMkdir, nil, false, "mkdir /tmp/d 2>&1 | grep -o 'Permission denied'; ls / >/dev/null && echo listed", "Permission denied\nlisted"},
		{"profile allows unshare -U", denyMkdir, nil, false, "unshare -U true && echo allowed", "allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec(t, "sh", "-c", tt.cmd)
			spec.Seccomp, spec.CapAdd, spec.Privileged = tt.seccomp, tt.capAdd, tt.privileged
			if got := mustRun(t, spec); got != tt.want {
				t.Errorf("%s: got %q, want %q", tt.cmd, got, tt.want)
			}
		})
	}
}

func TestRunSeccompInvalidProfile(t *testing.T) {
	spec := testSpec(t, "true")
	spec.Seccomp = `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_MAYBE"}]}`
	_, err := Run(context.Background(), spec, Stdio{})
	if !errors.Is(err, seccomp.ErrInvalid) {
		t.Errorf("Run with an unknown action = %v, want %v", err, seccomp.ErrInvalid)
	}
}

func TestSeccompProgram(t *testing.T) {
	// The container's capability numbers reach the compiler as the names profiles use: with
	// CAP_SYS_ADMIN, Docker's profile allows more calls, so the program differs.
	defaults, err := capabilities(Spec{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := capabilities(Spec{CapAdd: []string{"SYS_ADMIN"}})
	if err != nil {
		t.Fatal(err)
	}
	if seccomp.NativeArch() == "" {
		t.Skip("skipping: no seccomp syscall table for this architecture")
	}
	p1, err := seccompProgram(SeccompDefault, defaults)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := seccompProgram(SeccompDefault, admin)
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Filter) == len(p2.Filter) {
		t.Errorf("default caps and SYS_ADMIN compile to programs of the same length (%d)", len(p1.Filter))
	}
	if _, err := seccompProgram("{", defaults); !errors.Is(err, seccomp.ErrInvalid) {
		t.Errorf("seccompProgram(%q) = %v, want %v", "{", err, seccomp.ErrInvalid)
	}
}

// TestContainerFilter: the parent compiles the default filter for a confined container and
// none for an unconfined or privileged one; the bytes are whole struct sock_filters.
func TestContainerFilter(t *testing.T) {
	spec := Spec{Args: []string{"true"}}
	f, err := containerFilter(spec)
	if err != nil || f == nil {
		t.Fatalf("containerFilter(default) = %v, %v; want a filter", f, err)
	}
	if n := len(f.Insns); n == 0 || n%sockFilterSize != 0 {
		t.Errorf("filter is %d bytes, want a positive multiple of %d", n, sockFilterSize)
	}
	for _, s := range []Spec{{Seccomp: SeccompUnconfined}, {Privileged: true}} {
		if f, err := containerFilter(s); f != nil || err != nil {
			t.Errorf("containerFilter(%+v) = %v, %v; want none", s, f, err)
		}
	}
	if _, err := containerFilter(Spec{Seccomp: "{"}); err == nil {
		t.Errorf("containerFilter(bad profile) succeeded")
	}
}

// TestInstallFilterMalformed: bytes that are not whole instructions are refused before any
// seccomp call.
func TestInstallFilterMalformed(t *testing.T) {
	for _, n := range []int{0, 1, sockFilterSize + 3} {
		if err := installFilter(&seccompFilter{Insns: make([]byte, n)}); err == nil {
			t.Errorf("installFilter(%d bytes) succeeded", n)
		}
	}
}
