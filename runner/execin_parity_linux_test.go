package runner

import (
	"slices"
	"testing"
)

// TestExecEnv: exec's -e merges into the container's environment as docker's daemon does
// (ReplaceOrAppendEnvValues): a bare NAME takes the host's value, and unsets NAME when the
// host has none; the last -e naming a variable decides.
func TestExecEnv(t *testing.T) {
	t.Setenv("STRATA_T_HOST", "fromhost")
	container := []string{"PATH=/bin", "IMG=set", "KEEP=1"}
	tests := []struct {
		flags []string
		want  []string
	}{
		{nil, []string{"PATH=/bin", "IMG=set", "KEEP=1"}},
		{[]string{"IMG=new", "X=y"}, []string{"PATH=/bin", "IMG=new", "KEEP=1", "X=y"}},
		{[]string{"IMG"}, []string{"PATH=/bin", "KEEP=1"}},
		{[]string{"NOT_ANYWHERE"}, []string{"PATH=/bin", "IMG=set", "KEEP=1"}},
		{[]string{"STRATA_T_HOST"}, []string{"PATH=/bin", "IMG=set", "KEEP=1", "STRATA_T_HOST=fromhost"}},
		{[]string{"IMG", "IMG=again"}, []string{"PATH=/bin", "IMG=again", "KEEP=1"}},
		{[]string{"IMG=x", "IMG"}, []string{"PATH=/bin", "KEEP=1"}},
		{[]string{"NL=a\nb"}, []string{"PATH=/bin", "IMG=set", "KEEP=1", "NL=a\nb"}},
	}
	for _, tt := range tests {
		got, err := execEnv(container, tt.flags)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("execEnv(%q) = %q, %v, want %q", tt.flags, got, err, tt.want)
		}
	}
	if _, err := execEnv(container, []string{"=x"}); err == nil {
		t.Errorf("execEnv(%q) = nil error, want one", "=x")
	}
}
