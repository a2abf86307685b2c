package runner

import (
	"fmt"
	"strings"
	"testing"
)

// TestImageVolumesHostile: a config may name any number of VOLUMEs, each a directory, a copy
// and a mount; past MaxImageVolumes the image is refused before any is made. A NUL byte,
// which JSON allows, is refused by name rather than as the kernel's EINVAL.
func TestImageVolumesHostile(t *testing.T) {
	set := func(n int) map[string]struct{} {
		m := map[string]struct{}{}
		for i := range n {
			m[fmt.Sprintf("/v/%d", i)] = struct{}{}
		}
		return m
	}
	if got, err := ImageVolumes(set(MaxImageVolumes), nil); err != nil || len(got) != MaxImageVolumes {
		t.Errorf("ImageVolumes(%d) = %d mounts, %v; want them all", MaxImageVolumes, len(got), err)
	}
	_, err := ImageVolumes(set(100_000), nil)
	if want := fmt.Sprintf("the image has 100000 VOLUMEs, more than the %d strata makes", MaxImageVolumes); err == nil || err.Error() != want {
		t.Errorf("ImageVolumes(100000) = %v, want %q", err, want)
	}
	_, err = ImageVolumes(map[string]struct{}{"/a\x00b": {}}, nil)
	if err == nil || !strings.Contains(err.Error(), `invalid VOLUME "/a\x00b" in the image: contains a NUL byte`) {
		t.Errorf("ImageVolumes(NUL) = %v, want a NUL byte error", err)
	}
	_, err = ImageVolumes(map[string]struct{}{strings.Repeat("x", 1<<20): {}}, nil)
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("ImageVolumes(1 MB relative path) = an error of %d bytes, want one short line", len(fmt.Sprint(err)))
	}
}
