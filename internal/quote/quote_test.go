package quote

import (
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
