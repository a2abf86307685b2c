package runner

import (
	"strings"
	"testing"
)

// The devices cgroup, not the capability, decides what a container may open: with CAP_MKNOD it
// can make a node for a disk (8:0, sda), but opening that node is refused (EPERM), while the
// default devices work. /dev is a tmpfs without nodev, so only the cgroup stands in the way.
// A privileged container may open it (it finds no disk there on a host without sda: ENXIO,
// never EPERM).
func TestRunDevicesCgroup(t *testing.T) {
	const script = `mknod /dev/sda b 8 0 && echo made
head -c1 /dev/zero >/dev/null && echo zero-ok
echo x > /dev/null && echo null-ok
head -c1 /dev/sda 2>&1 >/dev/null`
	tests := []struct {
		name       string
		privileged bool
		want       []string
		notWant    string
	}{
		{"default", false, []string{"made", "zero-ok", "null-ok", "Operation not permitted"}, ""},
		{"privileged", true, []string{"made", "zero-ok", "null-ok"}, "Operation not permitted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec(t, "sh", "-c", script)
			spec.CapAdd = []string{"MKNOD"}
			spec.Privileged = tt.privileged
			_, out, errOut, err := runOut(t, spec)
			if err != nil {
				t.Fatalf("Run = %v; stderr: %s", err, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("the container printed %q, want %q in it (stderr %q)", out, w, errOut)
				}
			}
			if tt.notWant != "" && strings.Contains(out, tt.notWant) {
				t.Errorf("the container printed %q, want no %q", out, tt.notWant)
			}
		})
	}
}
