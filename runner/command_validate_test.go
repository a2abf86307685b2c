package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMergeEnvTotal: env files each under their own cap but more, together, than any execve
// takes (3/4 of _STK_LIM for argv and envp) were all read and merged, and the exec failed
// with "argument list too long" after seconds; the merge now stops at the file that passes
// the kernel's limit, in one line naming it. Variables a later file or -e replaces, or -e
// unsets, count once.
func TestMergeEnvTotal(t *testing.T) {
	dir := t.TempDir()
	write := func(name, prefix string, n int) string {
		t.Helper()
		var b strings.Builder
		val := strings.Repeat("v", 1000)
		for i := range n {
			b.WriteString(prefix)
			fmt.Fprintf(&b, "%06d", i)
			b.WriteString("=" + val + "\n")
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// 4000 variables of ~1 KB: 4 MB a file, under maxExecStrings alone, over it in pairs.
	a := write("a", "A", 4000)
	aAgain := write("a2", "A", 4000)
	b := write("b", "B", 4000)
	c := write("c", "C", 4000)

	if _, err := MergeEnv(nil, nil, []string{a}); err != nil {
		t.Errorf("MergeEnv(one 4 MB file) = %v, want nil", err)
	}
	if _, err := MergeEnv(nil, nil, []string{a, aAgain}); err != nil {
		t.Errorf("MergeEnv(a file and one setting the same variables) = %v, want nil", err)
	}
	_, err := MergeEnv(nil, nil, []string{a, b, c})
	want := `after env file "` + b + `", over the 6291456 the kernel passes to a command with its arguments`
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("MergeEnv(three 4 MB files) = %v, want one line with %s", err, want)
	}
	image := []string{"BIG=" + strings.Repeat("x", 7<<20)}
	if _, err := MergeEnv(image, nil, nil); err == nil || !strings.Contains(err.Error(), "after the image's") {
		t.Errorf("MergeEnv(a 7 MB image variable) = %v, want an error", err)
	}
	if _, err := MergeEnv(image, []string{"BIG"}, nil); err == nil {
		t.Errorf("MergeEnv(a 7 MB image variable, -e BIG) = nil, want an error at the image's")
	}
	var flags []string
	for i := range 4000 {
		flags = append(flags, fmt.Sprintf("A%06d", i)) // no "=" and not in strata's environment: unset
	}
	if _, err := MergeEnv(nil, flags, []string{a, b}); err == nil || !strings.Contains(err.Error(), `after env file "`+b+`"`) {
		t.Errorf("MergeEnv(a, b) = %v, want an error at b", err)
	}
	got, err := MergeEnv(nil, flags, []string{a})
	if err != nil || len(got) != 0 {
		t.Errorf("MergeEnv(a, -e every name of a unset) = %d variables, %v; want none", len(got), err)
	}
}

// TestValueQuotedInErrors: an empty --env-file, --cap-add or --cap-drop was printed bare
// ("open : no such file", "--cap-add : unknown capability"); each is quoted now, and the
// env file's error names its path once.
func TestValueQuotedInErrors(t *testing.T) {
	_, err := MergeEnv(nil, nil, []string{""})
	if want := `reading env file "": no such file or directory`; err == nil || err.Error() != want {
		t.Errorf(`MergeEnv(--env-file "") = %v, want %s`, err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf(`MergeEnv(--env-file "") = %v, want fs.ErrNotExist`, err)
	}
	missing := filepath.Join(t.TempDir(), "no\nsuch")
	_, err = MergeEnv(nil, nil, []string{missing})
	if want := `reading env file "` + strings.ReplaceAll(missing, "\n", `\n`) + `": no such file or directory`; err == nil || err.Error() != want {
		t.Errorf("MergeEnv(--env-file %q) = %v, want %s", missing, err, want)
	}
	for _, tt := range []struct {
		s    Spec
		want string
	}{
		{Spec{CapAdd: []string{""}}, `--cap-add "": unknown capability`},
		{Spec{CapDrop: []string{""}}, `--cap-drop "": unknown capability`},
		{Spec{CapAdd: []string{"cap_bogus\x1b[2J"}}, `--cap-add "cap_bogus\x1b[2J": unknown capability`},
		{Spec{CapDrop: []string{strings.Repeat("X", 100)}}, `--cap-drop "` + strings.Repeat("X", 64) + `"… (100 bytes): unknown capability`},
	} {
		if _, err := capabilities(tt.s); err == nil || err.Error() != tt.want {
			t.Errorf("capabilities(add %q, drop %q) = %v, want %s", tt.s.CapAdd, tt.s.CapDrop, err, tt.want)
		}
	}
}
