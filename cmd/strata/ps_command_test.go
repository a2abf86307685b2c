package main

import "testing"

// TestPsCommand: ps shows a container's command as docker's does, each argument with a space
// in single quotes, so that `sh -c 'sleep 1; echo hi'` does not read as three commands.
func TestPsCommand(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"/bin/sh"}, "/bin/sh"},
		{[]string{"sleep", "1000"}, "sleep 1000"},
		{[]string{"sh", "-c", "sleep 1; echo hi"}, "sh -c 'sleep 1; echo hi'"},
		{[]string{"echo", "it's", "a b", ""}, "echo it's 'a b' "},
		{[]string{"/my prog", "x"}, "/my prog x"},
		{[]string{"printf", "a\tb"}, "printf a\tb"},
	} {
		if got := psCommand(tt.args); got != tt.want {
			t.Errorf("psCommand(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
