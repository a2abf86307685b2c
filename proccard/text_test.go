package proccard

import (
	"bytes"
	"strings"
	"testing"
)

// TestQuoteArgsControl checks that a command line the container wrote reaches the terminal
// of inspect --proc and explain without a byte a terminal would act on: an escape sequence
// with no space in it went out raw.
func TestQuoteArgsControl(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sleep", "1000"}, "sleep 1000"},
		{[]string{"sh", "-c", "sleep 1"}, `sh -c "sleep 1"`},
		{[]string{"x\x1b[2J\x1b]0;pwned\a"}, `"x\x1b[2J\x1b]0;pwned\a"`},
		{[]string{"a\rb"}, `"a\rb"`},
		{[]string{"\x9b31m"}, `"\x9b31m"`},
		{[]string{"evil\u202etxt"}, `"evil\u202etxt"`},
		{[]string{"caf\u00e9"}, "caf\u00e9"},
		{[]string{""}, `""`},
	} {
		if got := quoteArgs(tc.args); got != tc.want {
			t.Errorf("quoteArgs(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
	card := &Card{Pid: 10, NSpid: []int{10, 1}, Command: []string{"sh", "-c", "sleep 1;:", "x\x1b[2J\x1b]0;pwned\a"}}
	var text, explain bytes.Buffer
	if err := Text(&text, card); err != nil {
		t.Fatal(err)
	}
	if err := Explain(&explain, "c", card); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"Text": text.String(), "Explain": explain.String()} {
		if strings.ContainsAny(out, "\x1b\a") {
			t.Errorf("%s writes the container's escape sequence raw:\n%q", name, out)
		}
	}
}

// TestSeccompFilterCount: one seccomp filter, as docker's profile installs, is "1 filter" in
// inspect --proc and explain, not "1 filters".
func TestSeccompFilterCount(t *testing.T) {
	card := &Card{Pid: 10, NSpid: []int{10, 1}, Command: []string{"sleep", "1"}}
	card.Security.Seccomp = "filter"
	card.Security.SeccompFilters = 1
	var text, explain bytes.Buffer
	if err := Text(&text, card); err != nil {
		t.Fatal(err)
	}
	if err := Explain(&explain, "c", card); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"Text": text.String(), "Explain": explain.String()} {
		if !strings.Contains(out, "(1 filter)") {
			t.Errorf("%s: want \"(1 filter)\" in\n%s", name, out)
		}
	}
}
