package runner

import (
	"os"
	"strings"
	"testing"
)

// TestValidateExecStrings: an image config's command, environment, working directory and
// user are JSON strings, which may hold a NUL byte or a megabyte; what execve would refuse
// whatever the container holds is refused before anything is made, in one line that does not
// repeat the megabyte.
func TestValidateExecStrings(t *testing.T) {
	max := 32 * os.Getpagesize() // MAX_ARG_STRLEN, with the NUL
	for _, tt := range []struct {
		name string
		edit func(*Spec)
		want string // "" for valid
	}{
		{"plain", func(s *Spec) {}, ""},
		{"NUL in an argument", func(s *Spec) { s.Args = []string{"echo", "a\x00b"} }, `argument 1 "a\x00b" contains a NUL byte`},
		{"NUL in a value", func(s *Spec) { s.Env = append(s.Env, "A=b\x00c") }, `invalid environment variable "A": contains a NUL byte`},
		{"NUL in a name", func(s *Spec) { s.Env = append(s.Env, "A\x00B=c") }, `invalid environment variable "A\x00B": contains a NUL byte`},
		{"NUL in the working directory", func(s *Spec) { s.Cwd = "/a\x00b" }, "contains a NUL byte"},
		{"NUL in the user", func(s *Spec) { s.User = "w\x00" }, "contains a NUL byte"},
		{"an argument at the limit", func(s *Spec) { s.Args = []string{"echo", strings.Repeat("x", max-1)} }, ""},
		{"an argument over it", func(s *Spec) { s.Args = []string{"echo", strings.Repeat("x", max)} }, "over the kernel's limit"},
		{"a variable at the limit", func(s *Spec) { s.Env = append(s.Env, "BIG="+strings.Repeat("x", max-5)) }, ""},
		{"a variable over it", func(s *Spec) { s.Env = append(s.Env, "BIG="+strings.Repeat("x", 1<<20)) }, `invalid environment variable "BIG": 1048580 bytes, over the kernel's limit`},
		{"a variable without '='", func(s *Spec) { s.Env = append(s.Env, "NOEQ") }, `invalid environment variable "NOEQ": missing '='`},
		{"a variable with an empty name", func(s *Spec) { s.Env = append(s.Env, "=c") }, `invalid environment variable "=c": empty name`},
		{"an empty value", func(s *Spec) { s.Env = append(s.Env, "E=") }, ""},
		{"arguments over what execve takes", func(s *Spec) {
			s.Args = []string{"echo"}
			for range 110_000 {
				s.Args = append(s.Args, strings.Repeat("a", 60))
			}
		}, "over the 6291456 the kernel passes"},
		{"arguments and variables under it", func(s *Spec) {
			s.Args = []string{"echo"}
			for range 10_000 {
				s.Args = append(s.Args, strings.Repeat("a", 60))
				s.Env = append(s.Env, "V="+strings.Repeat("b", 60))
			}
		}, ""},
		{"a relative working directory of 1 MB", func(s *Spec) { s.Cwd = strings.Repeat("x", 1<<20) }, "it needs to be an absolute path"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := Spec{Args: []string{"true"}, Env: []string{"PATH=/bin"}}
			tt.edit(&s)
			err := s.withDefaults().validateInput()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("validateInput() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("validateInput() = %v, want %q", err, tt.want)
			case err != nil && len(err.Error()) > 300:
				t.Errorf("validateInput() = an error of %d bytes, want a short line", len(err.Error()))
			}
		})
	}
}
