package runner

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCapabilities(t *testing.T) {
	defaults := []int{}
	for _, c := range DefaultCaps {
		defaults = append(defaults, capNames[c])
	}
	slices.Sort(defaults)
	tests := []struct {
		name    string
		spec    Spec
		want    []int
		wantErr bool
	}{
		{"default", Spec{}, defaults, false},
		{"drop all", Spec{CapDrop: []string{"ALL"}}, []int{}, false},
		{"drop all add two", Spec{CapDrop: []string{"all"}, CapAdd: []string{"cap_chown", "KILL"}}, []int{unix.CAP_CHOWN, unix.CAP_KILL}, false},
		{"add mknod", Spec{CapAdd: []string{"MKNOD"}}, sortedWith(defaults, unix.CAP_MKNOD), false},
		{"drop one", Spec{CapDrop: []string{"NET_RAW"}}, slices.DeleteFunc(slices.Clone(defaults), func(c int) bool { return c == unix.CAP_NET_RAW }), false},
		// docker's TweakCapabilities: ALL added keeps out only what is dropped, whatever the
		// order of the flags; ALL in both lists is every capability.
		{"add all drop one", Spec{CapAdd: []string{"ALL"}, CapDrop: []string{"SYS_ADMIN", "cap_net_raw"}},
			slices.DeleteFunc(allCaps(), func(c int) bool { return c == unix.CAP_SYS_ADMIN || c == unix.CAP_NET_RAW }), false},
		{"add all drop all", Spec{CapAdd: []string{"all"}, CapDrop: []string{"ALL"}}, allCaps(), false},
		{"add one then all", Spec{CapAdd: []string{"KILL", "ALL"}, CapDrop: []string{"MKNOD"}},
			slices.DeleteFunc(allCaps(), func(c int) bool { return c == unix.CAP_MKNOD }), false},
		// A list is read up to its ALL, as docker's normalizeCaps returns there.
		{"unknown after all", Spec{CapAdd: []string{"ALL", "FLY"}}, allCaps(), false},
		{"unknown before all", Spec{CapAdd: []string{"FLY", "ALL"}}, nil, true},
		{"unknown add", Spec{CapAdd: []string{"FLY"}}, nil, true},
		{"unknown drop", Spec{CapDrop: []string{"FLY"}}, nil, true},
		// ALL is a word of its own, as docker's NormalizeCapability keeps it: CAP_ALL is no
		// capability there ("unknown capability"), and strata took it for every one.
		{"cap_all added", Spec{CapAdd: []string{"CAP_ALL"}}, nil, true},
		{"cap_all dropped", Spec{CapDrop: []string{"cap_all"}}, nil, true},
		{"all with spaces", Spec{CapAdd: []string{" all "}}, allCaps(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := capabilities(tt.spec)
			if (err != nil) != tt.wantErr {
				t.Fatalf("capabilities() error = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !slices.Equal(got, tt.want) {
				t.Errorf("capabilities(%+v) = %v, want %v", tt.spec, got, tt.want)
			}
		})
	}
	all, err := capabilities(Spec{Privileged: true})
	if err != nil || len(all) != len(capNames) || !slices.Contains(all, unix.CAP_SYS_ADMIN) {
		t.Errorf("capabilities(privileged) = %v, %v, want all %d", all, err, len(capNames))
	}
	if slices.Contains(defaults, unix.CAP_MKNOD) || slices.Contains(defaults, unix.CAP_SYS_ADMIN) {
		t.Errorf("default caps %v include MKNOD or SYS_ADMIN", defaults)
	}
}

func sortedWith(s []int, c int) []int {
	out := append(slices.Clone(s), c)
	slices.Sort(out)
	return out
}

func allCaps() []int {
	out := make([]int, 0, len(capNames))
	for _, c := range capNames {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}
