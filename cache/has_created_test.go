package cache

import "testing"

// TestHasCreated: a config's "created" counts as given even when it is the zero time, which
// docker prints; absent or null it does not.
func TestHasCreated(t *testing.T) {
	for in, want := range map[string]bool{
		`{"created":"0001-01-01T00:00:00Z"}`: true,
		`{"created":"2024-05-01T10:00:00Z"}`: true,
		`{"created":null}`:                   false,
		`{"architecture":"amd64"}`:           false,
		`not json`:                           false,
	} {
		if got := hasCreated([]byte(in)); got != want {
			t.Errorf("hasCreated(%s) = %v, want %v", in, got, want)
		}
	}
}
