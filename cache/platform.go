package cache

import (
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-run/strata/internal/platforms"
)

// ErrNoPlatform is returned, inside a *PlatformError, when a stored index has no image for
// the platform asked for.
var ErrNoPlatform = errors.New("no image for the platform")

// PlatformError says a stored index has no image for Want and lists the platforms it has, so
// the message can tell the user what --platform would find.
type PlatformError struct {
	// Ref is the name the index is stored under.
	Ref       string
	Want      v1.Platform
	Available []v1.Platform
}

func (e *PlatformError) Error() string {
	have := make([]string, 0, len(e.Available))
	for _, p := range e.Available {
		have = append(have, p.String())
	}
	list := "none"
	if len(have) > 0 {
		list = strings.Join(have, ", ")
	}
	return fmt.Sprintf("no image for %s in %s (it has %s)", e.Want.String(), e.Ref, list)
}

// Is makes errors.Is(err, ErrNoPlatform) true.
func (e *PlatformError) Is(target error) bool { return target == ErrNoPlatform }

// hostPlatform is the platform Info describes an index by: the one strata runs.
func hostPlatform() v1.Platform { return platforms.Host() }

// PlatformMatches reports whether an image of platform have runs where want is asked for, as
// Docker decides it (see platforms.Matches).
func PlatformMatches(want, have v1.Platform) bool { return platforms.Matches(want, have) }

// isAttestation reports whether an index entry is BuildKit's attestation manifest
// (platform unknown/unknown): stored and copied with the index, but not an image to run.
func isAttestation(p *v1.Platform) bool {
	return p != nil && p.OS == "unknown"
}
