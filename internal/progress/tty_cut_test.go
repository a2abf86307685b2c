package progress

import (
	"testing"
	"unicode/utf8"
)

// TestCutRunes: a line cut to the terminal's width ends between characters: cut by bytes, an
// error naming a non-ASCII path left half a character, which terminals draw as garbage.
func TestCutRunes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"abcdef", 3, "abc"},
		{"abc", 3, "abc"},
		{"abc", 10, "abc"},
		{"héllo wörld", 5, "héllo"},
		{"日本語テキスト", 2, "日本"},
		{"abc", 0, ""},
		{"abc", -1, ""},
		{"", 4, ""},
	} {
		got := cutRunes(tt.in, tt.n)
		if got != tt.want || !utf8.ValidString(got) {
			t.Errorf("cutRunes(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
