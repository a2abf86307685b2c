package archive

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestMatchPlatformNormalized: save and load choose an index's entry as pull and run do, with
// both platforms normalized: an index whose entry says linux/x86_64 was pulled and run as
// linux/amd64, and then save refused it ("no matching platform linux/amd64 (it has
// linux/x86_64)").
func TestMatchPlatformNormalized(t *testing.T) {
	p := func(os, arch, variant string) v1.Platform {
		return v1.Platform{OS: os, Architecture: arch, Variant: variant}
	}
	for _, tt := range []struct {
		have, want v1.Platform
		match      bool
	}{
		{p("linux", "x86_64", ""), p("linux", "amd64", ""), true},
		{p("Linux", "AMD64", ""), p("linux", "amd64", ""), true},
		{p("linux", "amd64", ""), p("linux", "x86_64", ""), true},
		{p("linux", "aarch64", ""), p("linux", "arm64", "v8"), true},
		{p("linux", "arm64", "v8"), p("linux", "arm64", ""), true},
		{p("linux", "arm", "v6"), p("linux", "arm", ""), true},
		{p("linux", "arm", "v6"), p("linux", "arm", "v7"), false},
		{p("linux", "arm64", ""), p("linux", "amd64", ""), false},
		{p("windows", "amd64", ""), p("linux", "amd64", ""), false},
	} {
		if got := matchPlatform(tt.have, tt.want); got != tt.match {
			t.Errorf("matchPlatform(have %s, want %s) = %v, want %v", tt.have, tt.want, got, tt.match)
		}
	}
}
