package layers

import (
	"errors"
	"path"
	"strings"
	"testing"
)

func TestCleanName(t *testing.T) {
	tests := []struct {
		name, want string
		wantErr    error
	}{
		{"usr/bin/env", "usr/bin/env", nil},
		{"./usr/bin/env", "usr/bin/env", nil},
		{"/usr/lib/", "usr/lib", nil},
		{"././//a", "a", nil},
		{".", "", nil},
		{"./", "", nil},
		{"/", "", nil},
		{"", "", nil},
		{"a/b/../c", "a/c", nil},
		{"a//b/./c/", "a/b/c", nil},
		{"a/..", "", nil},
		{"..", "", ErrUnsafePath},
		{"../a", "", ErrUnsafePath},
		{"/../a", "", ErrUnsafePath},
		{"a/../../b", "", ErrUnsafePath},
		{"./..", "", ErrUnsafePath},
		{"a/\x00b", "", ErrUnsafePath},
		{"...", "...", nil},
		{"a/.wh..wh..opq", "a/.wh..wh..opq", nil},
	}
	for _, tc := range tests {
		got, err := cleanName(tc.name)
		if got != tc.want || !errors.Is(err, tc.wantErr) {
			t.Errorf("cleanName(%q) = %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

// FuzzCleanPath pins the allocation-free path to path.Clean's meaning.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"./a/b/", "a/../b", "//a//./b/..", "...", "./", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := cleanPath(name), path.Clean(strings.TrimLeft(name, "/")); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", name, got, want)
		}
	})
}
