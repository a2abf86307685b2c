package runner

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
)

// TestShmSize: Spec.ShmSize is the size the init mounts /dev/shm with and the ShmSize inspect
// shows, in bytes as docker's; 0 is docker's 64 MiB. A negative one (a hand-edited record)
// is refused, as docker's daemon refuses it.
func TestShmSize(t *testing.T) {
	id := strings.Repeat("ab", 32)
	for _, tt := range []struct {
		size    int64
		data    string // the tmpfs options of the plan's /dev/shm
		inspect int64
	}{
		{0, "mode=1777,size=65536k", 64 << 20},
		{1 << 20, "mode=1777,size=1024k", 1 << 20},
		{3 << 30, "mode=1777,size=3145728k", 3 << 30},
		{1000, "mode=1777,size=1000", 1000},
	} {
		spec := Spec{ID: id, Dir: "/c/" + id, Args: []string{"sh"}, Root: []mount.Mount{{Type: "bind", Source: "/c/rootfs", Target: "/"}}, ShmSize: tt.size}
		data := ""
		for _, s := range plan(spec) {
			if s.Op == OpMount && s.Target == "/dev/shm" {
				data = s.Data
			}
		}
		if data != tt.data {
			t.Errorf("ShmSize %d: the plan mounts /dev/shm with %q, want %q", tt.size, data, tt.data)
		}
		if got := Inspect(&Container{ID: id, Config: Config{Spec: spec}}).HostConfig.ShmSize; got != tt.inspect {
			t.Errorf("ShmSize %d: inspect shows HostConfig.ShmSize %d, want %d", tt.size, got, tt.inspect)
		}
		if err := spec.validateInput(); err != nil {
			t.Errorf("ShmSize %d: %v", tt.size, err)
		}
	}
	bad := Spec{Args: []string{"sh"}, ShmSize: -1}
	if err := bad.validateInput(); err == nil || !strings.Contains(err.Error(), "SHM size can not be less than 0") {
		t.Errorf("ShmSize -1: validateInput = %v, want docker's refusal", err)
	}
}

// TestInspectGroupAdd: HostConfig.GroupAdd is the --group-add values as given, null without
// one, as docker's.
func TestInspectGroupAdd(t *testing.T) {
	id := strings.Repeat("cd", 32)
	for _, tt := range []struct {
		groupAdd []string
		want     string
	}{
		{nil, "null"},
		{[]string{"audio", "1234", "+5"}, `["audio","1234","+5"]`},
	} {
		spec := Spec{ID: id, Args: []string{"sh"}, GroupAdd: tt.groupAdd}
		b, err := json.Marshal(Inspect(&Container{ID: id, Config: Config{Spec: spec}}).HostConfig.GroupAdd)
		if err != nil || string(b) != tt.want {
			t.Errorf("GroupAdd %q: inspect shows %s (%v), want %s", tt.groupAdd, b, err, tt.want)
		}
	}
}
