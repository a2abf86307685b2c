package runner

import (
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
)

// TestValidateTerminalMounts: with -t, a volume at /dev or /dev/pts (an image's VOLUME, -v
// /dev, --mount type=volume) or a tmpfs at /dev/pts hides the devpts the init allocates the
// terminal from, and a volume or tmpfs at /dev/console is a directory the terminal cannot be
// bound on: the init failed with "allocating terminal: no such file or directory", or died
// unheard. Each is refused in one line before a container is made; what can hold a terminal
// (a tmpfs at /dev gets a devpts on top, a volume at /dev/shm, a bind that may be the host's
// /dev) is not, nor is any of them without -t.
func TestValidateTerminalMounts(t *testing.T) {
	volume := func(target string) mount.Mount {
		return mount.Mount{Type: TypeVolume, Target: target, Source: "/c/volumes/0", Options: volumeOptions}
	}
	tmpfs := func(target string) mount.Mount { return mount.Mount{Type: "tmpfs", Target: target} }
	bind := func(target string) mount.Mount { return mount.Mount{Type: "bind", Source: "/dev", Target: target} }
	for _, tt := range []struct {
		name  string
		mount mount.Mount
		want  string // the error with -t; "" for none
	}{
		{"volume at /dev", volume("/dev"), "cannot allocate a terminal (-t): the volume at /dev hides the container's /dev/pts"},
		{"volume at /dev/", volume("/dev/"), "cannot allocate a terminal (-t): the volume at /dev hides the container's /dev/pts"},
		{"volume at /dev/pts", volume("/dev/pts"), "cannot allocate a terminal (-t): the volume at /dev/pts hides the container's /dev/pts"},
		{"tmpfs at /dev/pts", tmpfs("/dev/pts"), "cannot allocate a terminal (-t): the tmpfs at /dev/pts hides the container's /dev/pts"},
		{"volume at /dev/console", volume("/dev/console"), "cannot allocate a terminal (-t): the volume at /dev/console makes it a directory, where the terminal is bound"},
		{"tmpfs at /dev/console", tmpfs("/dev/console"), "cannot allocate a terminal (-t): the tmpfs at /dev/console makes it a directory, where the terminal is bound"},
		{"tmpfs at /dev", tmpfs("/dev"), ""},
		{"volume at /dev/shm", volume("/dev/shm"), ""},
		{"volume at /dev/mqueue", volume("/dev/mqueue"), ""},
		{"volume at /devices", volume("/devices"), ""},
		{"bind at /dev", bind("/dev"), ""},
		{"bind at /dev/pts", bind("/dev/pts"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := Spec{ID: "c", Args: []string{"true"}, Mounts: []mount.Mount{tt.mount}}
			if err := s.withDefaults().validateInput(); err != nil {
				t.Errorf("validateInput() without -t = %v, want nil", err)
			}
			s.Terminal = true
			err := s.withDefaults().validateInput()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("validateInput() = %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("validateInput() = %v, want %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Errorf("validateInput() = %q, want one line", err)
			}
		})
	}
}
