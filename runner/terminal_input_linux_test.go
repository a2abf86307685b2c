package runner

import (
	"strings"
	"testing"
)

// TestCopyInputDetach: exec -it's input goes to the command's terminal until the detach keys,
// which are not passed on; a prefix of them broken by the next byte is.
func TestCopyInputDetach(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		detached bool
	}{
		{"hi\n", "hi\n", false},
		{"a\x10b\x10\x10\x11rest", "a\x10b\x10", true},
		{"\x10\x11", "", true},
	} {
		var got strings.Builder
		detached := copyInput(&got, strings.NewReader(tt.in), []byte{0x10, 0x11})
		if got.String() != tt.want || detached != tt.detached {
			t.Errorf("copyInput(%q) wrote %q, detached %v; want %q, %v", tt.in, got.String(), detached, tt.want, tt.detached)
		}
	}
}
