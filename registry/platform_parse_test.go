package registry

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestParsePlatformAliases: the names docker takes for a platform select the same manifests
// as the canonical ones; a mismatch would refuse `--platform LINUX/AMD64` or `linux/x86_64`.
func TestParsePlatformAliases(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want v1.Platform
	}{
		{"linux/amd64", v1.Platform{OS: "linux", Architecture: "amd64"}},
		{"LINUX/AMD64", v1.Platform{OS: "linux", Architecture: "amd64"}},
		{"linux/x86_64", v1.Platform{OS: "linux", Architecture: "amd64"}},
		{"linux/x86-64", v1.Platform{OS: "linux", Architecture: "amd64"}},
		{"linux/aarch64", v1.Platform{OS: "linux", Architecture: "arm64"}},
		{"linux/arm64/8", v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		{"linux/armhf", v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{"linux/armel", v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}},
		{"linux/arm/7", v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{"linux/i386", v1.Platform{OS: "linux", Architecture: "386"}},
		{"linux/riscv64", v1.Platform{OS: "linux", Architecture: "riscv64"}},
		// One word, as docker takes it: an OS on this host's architecture, or an
		// architecture of linux. strata refused `--platform arm64`, which docker pulls.
		{"linux", v1.Platform{OS: "linux", Architecture: DefaultPlatform().Architecture}},
		{"Linux", v1.Platform{OS: "linux", Architecture: DefaultPlatform().Architecture}},
		{"arm64", v1.Platform{OS: "linux", Architecture: "arm64"}},
		{"aarch64", v1.Platform{OS: "linux", Architecture: "arm64"}},
		{"x86_64", v1.Platform{OS: "linux", Architecture: "amd64"}},
		{"s390x", v1.Platform{OS: "linux", Architecture: "s390x"}},
		{"armhf", v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{"windows", v1.Platform{OS: "windows", Architecture: DefaultPlatform().Architecture}},
	} {
		got, err := ParsePlatform(tt.in)
		if err != nil {
			t.Errorf("ParsePlatform(%q): %v", tt.in, err)
			continue
		}
		if got.OS != tt.want.OS || got.Architecture != tt.want.Architecture || got.Variant != tt.want.Variant {
			t.Errorf("ParsePlatform(%q) = %s, want %s", tt.in, platformString(got), platformString(tt.want))
		}
	}
	// Parts that are no platform words, as containerd refuses them: a path, blanks, escapes.
	for _, bad := range []string{"", "/amd64", "linux/", "amd65", "linux:10.0/x", "a/b/c/d",
		"../..", "linux/..", "linux/amd64/..", "linux/am d64", "linux/amd64/\x1b[31m", "linux/amd64/v\n8", "lin\u00fcx/amd64",
		// A value of a megabyte is quoted back cut (found by FuzzRegistryValues).
		strings.Repeat("\xaf", 1<<20), "linux/amd64/" + strings.Repeat("\xaf", 1<<20)} {
		if _, err := ParsePlatform(bad); err == nil {
			t.Errorf("ParsePlatform(%.40q) succeeded", bad)
		} else if len(err.Error()) > 512 {
			t.Errorf("ParsePlatform(%.40q) error is %d bytes, want it cut", bad, len(err.Error()))
		}
	}
}

// TestPlatformErrorNamesEmptyPlatform: an index entry whose platform has empty words is
// listed as such in the error, not as "/".
func TestPlatformErrorNamesEmptyPlatform(t *testing.T) {
	e := &PlatformError{Ref: "example.com/a:1", Want: v1.Platform{OS: "linux", Architecture: "amd64"},
		Available: []v1.Platform{{}, {OS: "linux", Architecture: "arm64"}}}
	want := "no matching manifest for linux/amd64 in the manifest list of example.com/a:1 (available: one naming no OS or architecture, linux/arm64)"
	if got := e.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
