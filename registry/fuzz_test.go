package registry

import (
	"errors"
	"testing"
)

// FuzzParseReference checks that any input either parses to a reference that prints and
// re-parses to itself, or fails with ErrInvalidReference; never a panic.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"alpine", "alpine:3.19", "user/app@" + dgA, "localhost:5000/x:1@" + dgA, "[::1]:5000/a/b",
		"Alpine", "a//b", "x@sha256:", "x:", hexA, "index.docker.io/library/alpine",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidReference) {
				t.Fatalf("ParseReference(%q) = %v, not ErrInvalidReference", s, err)
			}
			return
		}
		again, err := ParseReference(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseReference(%q) = %+v, but its String %q parses to %+v, %v", s, r, r.String(), again, err)
		}
		if _, err := r.remote(r.Registry(), false); err != nil {
			t.Fatalf("ParseReference(%q) accepted what go-containerregistry rejects: %v", s, err)
		}
	})
}
