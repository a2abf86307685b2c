package runner

import (
	"slices"
	"strings"
	"testing"
)

// TestHideGoEnv: the variables the Go runtime reads are renamed for strata's helper and come
// back as they were, in their place; names of the environment that look like a renamed one
// (the prefix, with or without more "_") are kept as they are, and one of 100k such names
// costs no more than a pass over the environment.
func TestHideGoEnv(t *testing.T) {
	for _, env := range [][]string{
		{"PATH=/bin", "HOME=/"},
		{"GODEBUG=inittrace=1", "A=1", "GOMAXPROCS=200", "GOMEMLIMIT=1", "GOGC=1", "GOTRACEBACK=crash"},
		{"STRATA_CMD_GOGC=mine", "GOGC=1"},
		{"GOGC=1", "STRATA_CMD_GOGC=mine", "STRATA_CMD___GOMAXPROCS=x", "STRATA_CMD_=y", "STRATA_CMD_X=z"},
		{"GOGCX=1", "GOG=2", "XGOGC=3", "GOGC"},
		{"GOGC="},
	} {
		hidden, prefix := hideGoEnv(env)
		if len(hidden) != len(env) {
			t.Fatalf("hideGoEnv(%q) = %q", env, hidden)
		}
		for _, kv := range hidden {
			name, _, _ := strings.Cut(kv, "=")
			if slices.Contains(goRuntimeVars, name) {
				t.Errorf("hideGoEnv(%q) = %q, %q: the runtime reads %s", env, hidden, prefix, name)
			}
		}
		if got := restoreGoEnv(hidden, prefix); !slices.Equal(got, env) {
			t.Errorf("restoreGoEnv(hideGoEnv(%q)) = %q (hidden %q, prefix %q)", env, got, hidden, prefix)
		}
		if m, p := splitMarker(withGoEnvPrefix(reaperMarker, prefix)); m != reaperMarker || p != prefix {
			t.Errorf("splitMarker(withGoEnvPrefix(%q)) = %q, %q", prefix, m, p)
		}
	}
	env := []string{"GOGC=1"}
	for i := range 100_000 {
		env = append(env, hiddenGoEnvPrefix+strings.Repeat("_", i%50)+"GOGC=x")
	}
	hidden, prefix := hideGoEnv(env)
	if want := hiddenGoEnvPrefix + strings.Repeat("_", 50); prefix != want || hidden[0] != want+"GOGC=1" {
		t.Errorf("with 100k look-alikes: prefix %q, first %q; want %q", prefix, hidden[0], want)
	}
	if got := restoreGoEnv(hidden, prefix); !slices.Equal(got, env) {
		t.Errorf("with 100k look-alikes: not restored")
	}
}
