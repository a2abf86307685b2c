package registry

import "testing"

// TestByDigest: a reference with a digest loses its tag, as docker pulls and records it; one
// without a digest is unchanged.
func TestByDigest(t *testing.T) {
	d := "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for in, want := range map[string]string{
		"alpine:3.20@" + d:       "docker.io/library/alpine@" + d,
		"alpine@" + d:            "docker.io/library/alpine@" + d,
		"alpine:3.20":            "docker.io/library/alpine:3.20",
		"h:5000/x/y:latest@" + d: "h:5000/x/y@" + d,
	} {
		r, err := ParseReference(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.ByDigest(); got.String() != want {
			t.Errorf("%s.ByDigest() = %s, want %s", in, got, want)
		}
	}
}
