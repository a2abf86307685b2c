package runner

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/mount"
)

// TestRootPropagation: the init's copy of the host's mounts is rprivate, as it always was,
// unless a bind asks for slave or shared propagation; then it is rslave, and every other
// bind of a host path (the user's, the volumes, the etc files) is made rprivate, docker's
// default, so that only the binds that asked follow the host.
func TestRootPropagation(t *testing.T) {
	bind := func(target string, opts ...string) mount.Mount {
		return mount.Mount{Type: "bind", Source: "/src", Target: target, Options: append([]string{"rbind"}, opts...)}
	}
	for _, tt := range []struct {
		name   string
		mounts []mount.Mount
		want   uintptr
	}{
		{"none", nil, rprivate},
		{"plain bind", []mount.Mount{bind("/a"), bind("/b", "ro")}, rprivate},
		{"private", []mount.Mount{bind("/a", "rprivate"), bind("/b", "private")}, rprivate},
		{"rslave", []mount.Mount{bind("/a"), bind("/b", "rslave")}, unix.MS_SLAVE | unix.MS_REC},
		{"slave", []mount.Mount{bind("/b", "slave")}, unix.MS_SLAVE | unix.MS_REC},
		{"rshared", []mount.Mount{bind("/b", "ro", "rshared")}, unix.MS_SLAVE | unix.MS_REC},
		{"tmpfs option", []mount.Mount{{Type: "tmpfs", Source: "tmpfs", Target: "/t", Options: []string{"rshared"}}}, rprivate},
	} {
		spec := Spec{ID: "c", Dir: "/ctr", Args: []string{"true"}, Mounts: tt.mounts}
		if got := rootPropagation(spec); got != tt.want {
			t.Errorf("%s: rootPropagation = %#x, want %#x", tt.name, got, tt.want)
		}
		for _, s := range plan(spec) {
			if s.Op != OpBind {
				continue
			}
			switch {
			case tt.want == rprivate && s.Source == "/ctr/hosts" && s.Propagation != 0:
				t.Errorf("%s: the etc bind %s has propagation %#x, want none (the root's rprivate)", tt.name, s.Target, s.Propagation)
			case tt.want != rprivate && s.Propagation == 0:
				t.Errorf("%s: bind %s of %s keeps the slave root's propagation, want rprivate", tt.name, s.Target, s.Source)
			}
		}
	}
}
