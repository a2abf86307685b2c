package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

func TestPullErrorNamesRefOnce(t *testing.T) {
	ref, err := registry.ParseReference("alpine:3.20")
	if err != nil {
		t.Fatal(err)
	}
	full := ref.String() // docker.io/library/alpine:3.20
	tests := []struct {
		name string
		err  error
		want string
		is   error
	}{
		{"registry names the image",
			&registry.Error{Kind: registry.ErrNotFound, Msg: "manifest for " + full + " not found"},
			"manifest for " + full + " not found", registry.ErrNotFound},
		{"registry names the host only",
			&registry.Error{Kind: registry.ErrUnreachable, Msg: "registry docker.io: connection refused"},
			"pulling alpine:3.20: registry docker.io: connection refused", registry.ErrUnreachable},
		{"store error",
			fmt.Errorf("writing image: layer sha256:f56c963fba53: %w", cache.ErrDigestMismatch),
			"pulling alpine:3.20: writing image: layer sha256:f56c963fba53: ", cache.ErrDigestMismatch},
		{"registry names the repository",
			&registry.Error{Kind: registry.ErrUnreachable, Msg: "pulling docker.io/library/alpine: stopped after 10 redirects"},
			"pulling alpine:3.20: stopped after 10 redirects", registry.ErrUnreachable},
		{"registry names the image inside the store's words",
			fmt.Errorf("writing image: manifest sha256:000000000000: reading: %w",
				&registry.Error{Kind: registry.ErrNotFound, Msg: "manifest sha256:" + strings.Repeat("0", 64) + " of " + full + " not found"}),
			"manifest sha256:" + strings.Repeat("0", 64) + " of " + full + " not found", registry.ErrNotFound},
		{"familiar name already there",
			errors.New("resolving alpine:3.20: index.json is corrupt"),
			"resolving alpine:3.20: index.json is corrupt", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pullError(ref, tt.err)
			msg := got.Error()
			if !strings.HasPrefix(msg, tt.want) {
				t.Errorf("pullError(%q) = %q, want it to start %q", tt.err, msg, tt.want)
			}
			if n := strings.Count(msg, "alpine:3.20"); n != 1 {
				t.Errorf("pullError(%q) = %q names the image %d times, want once", tt.err, msg, n)
			}
			if tt.is != nil && !errors.Is(got, tt.is) {
				t.Errorf("pullError(%q) lost %v", tt.err, tt.is)
			}
		})
	}
}
