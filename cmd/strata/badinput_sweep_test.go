package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestOneLineBounds: bytes that are not UTF-8 come out escaped, as control characters do (a
// raw \xff\xfe reaches the terminal as mojibake), blank lines of a joined error leave no
// empty part, and a line carrying a 100 KB argument is cut to maxErrorLine runes, keeping
// its start and its end.
func TestOneLineBounds(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"no such container: \xff\xfe", `no such container: \xff\xfe`},
		{"bad \xc3 half rune and é", `bad \xc3 half rune and é`},
		{"a\n\n\nb", "a; b"},
		{"\n", ""},
	} {
		if got := oneLine(tt.in); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := "invalid --filter \"" + strings.Repeat("a", 100<<10) + "\": unknown key"
	got := oneLine(long + "\nsecond: " + strings.Repeat("é", 5000))
	first, second, ok := strings.Cut(got, "; ")
	if !ok {
		t.Fatalf("oneLine(long) = %.100q…, want two parts", got)
	}
	for _, part := range []string{first, second} {
		if n := utf8.RuneCountInString(part); n > maxErrorLine {
			t.Errorf("oneLine(long) has a part of %d runes, want at most %d", n, maxErrorLine)
		}
	}
	if !strings.HasPrefix(first, `invalid --filter "aaa`) || !strings.HasSuffix(first, `aaa": unknown key`) || !strings.Contains(first, " … ") {
		t.Errorf("oneLine(long) = %.80q…%q, want its start and end around …", first, first[len(first)-40:])
	}
	if !utf8.ValidString(second) || !strings.HasPrefix(second, "second: é") {
		t.Errorf("oneLine(long) second part = %.80q, want valid UTF-8 from its start", second)
	}
}
