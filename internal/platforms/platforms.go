// Package platforms compares image platforms as Docker does; the registry (choosing what to
// pull) and the store (choosing what to run from an index) must agree on it.
package platforms

import (
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Spell writes p in the words images use for it, as containerd reads the names people and
// image builders give a platform: lower case, "darwin" for "macos", the architecture's Go name
// ("x86_64" and "x86-64" are amd64, "aarch64" arm64, "i386" and "i686" 386, "armhf" arm v7,
// "armel" arm v6), and a variant given as a bare number ("7") as "v7". Beyond those names
// it fills or drops no variant: what the user or the index said stays said (Normalize does).
func Spell(p v1.Platform) v1.Platform {
	p.OS = strings.ToLower(p.OS)
	p.Architecture = strings.ToLower(p.Architecture)
	p.Variant = strings.ToLower(p.Variant)
	if p.OS == "macos" {
		p.OS = "darwin"
	}
	switch p.Architecture {
	case "x86_64", "x86-64":
		p.Architecture = "amd64"
	case "aarch64":
		p.Architecture = "arm64"
	case "i386", "i686":
		p.Architecture, p.Variant = "386", ""
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	}
	if len(p.Variant) == 1 && p.Variant >= "1" && p.Variant <= "9" {
		p.Variant = "v" + p.Variant
	}
	return p
}

// Normalize is Spell and the variants Docker takes as the same platform (containerd's
// platforms.Normalize): amd64 v1 is amd64, arm64 v8 (or v8.0) is arm64 and v9.0 v9, and arm
// is v7 unless it says otherwise. An index entry `{"os":"Linux","architecture":"x86_64"}` or
// linux/amd64/v1 is then the linux/amd64 docker pulls from it.
func Normalize(p v1.Platform) v1.Platform {
	p = Spell(p)
	switch p.Architecture {
	case "amd64":
		if p.Variant == "v1" {
			p.Variant = ""
		}
	case "arm64":
		switch p.Variant {
		case "v8", "v8.0":
			p.Variant = ""
		case "9.0", "v9.0":
			p.Variant = "v9"
		}
	case "arm":
		if p.Variant == "" {
			p.Variant = "v7"
		}
	}
	return p
}

// Matches reports whether an image of platform have runs where want is asked for: OS,
// architecture and variant compared after Normalize, on both sides (the user's --platform and
// an index's or a config's words alike). OS version and features are for Windows images,
// which strata never runs; they are ignored.
func Matches(want, have v1.Platform) bool {
	w, h := Normalize(want), Normalize(have)
	return w.OS == h.OS && w.Architecture == h.Architecture && w.Variant == h.Variant
}

// Host is the platform strata runs images of: linux on this binary's architecture.
func Host() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}
