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
	}
	for _, tt := range tests {
		if got := Matches(tt.want, tt.have); got != tt.match {
			t.Errorf("Matches(%v, %v) = %v, want %v", tt.want, tt.have, got, tt.match)
		}
	}
}
