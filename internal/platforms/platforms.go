// Package platforms compares image platforms as Docker does; the registry (choosing what to
// pull) and the store (choosing what to run from an index) must agree on it.
package platforms

import (
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Normalize fills the variant Docker assumes when none is given: arm64 images are v8 and arm
// images v7 unless they say otherwise (containerd's platforms.Normalize does the same).
func Normalize(p v1.Platform) v1.Platform {
	if p.Variant == "" {
		switch p.Architecture {
		case "arm64":
			p.Variant = "v8"
		case "arm":
			p.Variant = "v7"
		}
	}
	return p
}

// Matches reports whether an image of platform have runs where want is asked for: OS,
// architecture and variant compared after Normalize. OS version and features are for Windows
// images, which strata never runs; they are ignored.
func Matches(want, have v1.Platform) bool {
	w, h := Normalize(want), Normalize(have)
	return w.OS == h.OS && w.Architecture == h.Architecture && w.Variant == h.Variant
}

// Host is the platform strata runs images of: linux on this binary's architecture.
func Host() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}
