package runner

import "testing"

// TestWithDefaultsCleansCwd: the working directory is cleaned as docker cleans it before it
// is made and entered; the init made "/a/c" for "//a/./b//../c/" and then failed to chdir to
// the name as given, whose b does not exist.
func TestWithDefaultsCleansCwd(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"//a/./b//../c/", "/a/c"},
		{"/../..", "/"},
		{"/a/link/..", "/a"},
		{"rel/../x", "rel/../x"}, // refused by validateInput as it is
	} {
		if got := (Spec{Cwd: tt.in}).withDefaults().Cwd; got != tt.want {
			t.Errorf("Spec{Cwd: %q}.withDefaults().Cwd = %q, want %q", tt.in, got, tt.want)
		}
	}
}
