package runner

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCapAddNotHeld: a --cap-add of a capability strata's own bounding set lacks (root
// without CAP_SYS_RESOURCE on some hosts) was left out by the init without a word: CapEff as
// without it, exit 0. It is refused in one line before the container is made; ALL and
// --privileged still give every capability strata holds, silently, as docker's.
func TestCapAddNotHeld(t *testing.T) {
	old := capHeld
	t.Cleanup(func() { capHeld = old })
	capHeld = func(c int) bool { return c != unix.CAP_SYS_RESOURCE }

	for _, tt := range []struct {
		spec Spec
		want string
	}{
		{Spec{CapAdd: []string{"SYS_RESOURCE"}}, `--cap-add "SYS_RESOURCE": strata does not hold this capability here (not in its bounding set)`},
		{Spec{CapAdd: []string{"KILL", "cap_sys_resource"}}, `--cap-add "cap_sys_resource": strata does not hold`},
		{Spec{CapAdd: []string{"SYS_RESOURCE"}, CapDrop: []string{"ALL"}}, `--cap-add "SYS_RESOURCE": strata does not hold`},
	} {
		_, err := capabilities(tt.spec)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("capabilities(add %q, drop %q) = %v, want %s", tt.spec.CapAdd, tt.spec.CapDrop, err, tt.want)
		}
		s := tt.spec
		s.ID, s.Args = "c", []string{"true"}
		if err := s.withDefaults().validateInput(); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("validateInput(add %q) = %v, want %s", tt.spec.CapAdd, err, tt.want)
		}
	}
	for _, s := range []Spec{
		{Privileged: true},
		{Privileged: true, CapAdd: []string{"SYS_RESOURCE"}},
		{CapAdd: []string{"ALL"}},
		{CapAdd: []string{"ALL", "SYS_RESOURCE"}}, // read up to ALL, as docker
		{CapAdd: []string{"SYS_RESOURCE", "ALL"}}, // ALL: what strata holds
		{CapAdd: []string{"NET_ADMIN"}},
		{CapDrop: []string{"SYS_RESOURCE"}},
	} {
		if _, err := capabilities(s); err != nil {
			t.Errorf("capabilities(add %q, drop %q, privileged %v) = %v, want nil", s.CapAdd, s.CapDrop, s.Privileged, err)
		}
	}
}

// TestCapAddNotHeldHere: the same with this host's own bounding set, when it lacks one.
func TestCapAddNotHeldHere(t *testing.T) {
	var missing string
	names := make([]string, 0, len(capNames))
	for n := range capNames {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if ok, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(capNames[n]), 0, 0, 0); err != nil || ok != 1 {
			missing = n
			break
		}
	}
	if missing == "" {
		t.Skip("this process's bounding set holds every capability")
	}
	_, err := capabilities(Spec{CapAdd: []string{missing}})
	if want := "--cap-add " + `"` + missing + `": strata does not hold this capability here`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("capabilities(--cap-add %s) = %v, want %s", missing, err, want)
	}
	if _, err := capabilities(Spec{CapAdd: []string{"ALL"}}); err != nil {
		t.Errorf("capabilities(--cap-add ALL) = %v, want nil", err)
	}
}
