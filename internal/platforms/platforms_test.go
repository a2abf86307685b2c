package platforms

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestMatches(t *testing.T) {
	tests := []struct {
		want, have v1.Platform
		match      bool
	}{
		{v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "amd64"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, v1.Platform{OS: "linux", Architecture: "arm"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, v1.Platform{OS: "linux", Architecture: "arm"}, false},
		{v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64"}, false},
		{v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0"}, false},
		{v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "amd64", OSFeatures: []string{"x"}}, true},
		// An index's or a user's other words for a platform, as containerd normalizes them:
		// docker pulls these, strata refused them ("no matching manifest").
		{v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "x86_64"}, true},
		{v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "x86-64"}, true},
		{v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "Linux", Architecture: "AMD64"}, true},
		{v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v1"}, true},
		{v1.Platform{OS: "linux", Architecture: "x86_64"}, v1.Platform{OS: "linux", Architecture: "amd64"}, true},
		{v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v2"}, false},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, v1.Platform{OS: "linux", Architecture: "aarch64", Variant: "v8"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, v1.Platform{OS: "linux", Architecture: "AArch64"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "8"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v9"}, false},
		{v1.Platform{OS: "linux", Architecture: "386"}, v1.Platform{OS: "linux", Architecture: "i386"}, true},
		{v1.Platform{OS: "linux", Architecture: "386"}, v1.Platform{OS: "linux", Architecture: "i686"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, v1.Platform{OS: "linux", Architecture: "armhf"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, v1.Platform{OS: "linux", Architecture: "armel"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm"}, v1.Platform{OS: "linux", Architecture: "arm", Variant: "7"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, v1.Platform{OS: "linux", Architecture: "armel"}, false},
		{v1.Platform{OS: "darwin", Architecture: "arm64"}, v1.Platform{OS: "macOS", Architecture: "arm64"}, true},
	}
	for _, tt := range tests {
		if got := Matches(tt.want, tt.have); got != tt.match {
			t.Errorf("Matches(%v, %v) = %v, want %v", tt.want, tt.have, got, tt.match)
		}
	}
}
