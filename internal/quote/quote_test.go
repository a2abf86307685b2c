package quote

import (
	"errors"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
)

func TestQuoteValue(t *testing.T) {
	long := strings.Repeat("a", 100000)
	tests := []struct {
		in, want string
	}{
		{"", `""`},
		{"web", `"web"`},
		{"a\x1b[2Jb", `"a\x1b[2Jb"`},
		{"\xff", `"\xff"`},
		{strings.Repeat("b", 64), `"` + strings.Repeat("b", 64) + `"`},
		{long, `"` + strings.Repeat("a", 64) + `"… (100000 bytes)`},
		// A cut never splits a rune: "é" is 2 bytes, so 63 "x" then "é" stops before it.
		{strings.Repeat("x", 63) + "éé", `"` + strings.Repeat("x", 63) + `"… (67 bytes)`},
	}
	for _, tt := range tests {
		if got := Value(tt.in); got != tt.want {
			t.Errorf("Value(%.80q) = %.200s, want %.200s", tt.in, got, tt.want)
		}
	}
}

// TestRegexp: a bad expression is quoted back escaped and cut, in regexp's words.
func TestRegexp(t *testing.T) {
	for _, tt := range []struct{ expr, want string }{
		{"(", "error parsing regexp: missing closing ): \"(\""},
		{"(\x1b7\r", "error parsing regexp: missing closing ): \"(\\x1b7\\r\""},
		{"(" + strings.Repeat("a", 100000), "error parsing regexp: missing closing ): \"(" + strings.Repeat("a", 63) + "\"… (100001 bytes)"},
	} {
		_, err := regexp.Compile(tt.expr)
		if got := Regexp(err); got == nil || got.Error() != tt.want {
			t.Errorf("Regexp(Compile(%.40q)) = %.200v, want %.200s", tt.expr, got, tt.want)
		}
		var se *syntax.Error
		if !errors.As(Regexp(err), &se) {
			t.Errorf("Regexp(Compile(%.40q)) does not wrap the *syntax.Error", tt.expr)
		}
	}
	if Regexp(nil) != nil {
		t.Error("Regexp(nil) != nil")
	}
}
