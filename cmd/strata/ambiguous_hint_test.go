package main

import (
	"strings"
	"testing"
)

// TestNoHintToNameTheDigestRepository: a name in the repository named as the digest algorithm
// (sha256:x, sha256, sha256:<upper-case hex>), which the store never holds, is refused by pull
// before the network or the store is asked, with docker's words, and the errors of image
// inspect, run and push no longer say to 'strata pull' or 'strata tag' it: each hint named a
// command that is refused ("refusing to create an ambiguous tag ...").
func TestNoHintToNameTheDigestRepository(t *testing.T) {
	root := t.TempDir()
	upper := "sha256:" + strings.Repeat("A", 64)
	for _, name := range []string{"sha256:x", "sha256", upper} {
		_, err := strata(t, root, nil, "pull", "--offline", name)
		if err == nil || !strings.HasPrefix(err.Error(), "refusing to create an ambiguous tag using digest algorithm as name") {
			t.Errorf("pull --offline %s = %v, want docker's refusal of an ambiguous tag", name, err)
		}
		for _, args := range [][]string{{"image", "inspect", name}, {"run", name}, {"push", name}} {
			_, err := strata(t, root, nil, args...)
			if err == nil || !strings.Contains(err.Error(), "not in the store") && !strings.Contains(err.Error(), "not found in the store") {
				t.Errorf("%v = %v, want not in the store", args, err)
				continue
			}
			if strings.Contains(err.Error(), "strata pull") || strings.Contains(err.Error(), "strata tag") {
				t.Errorf("%v = %v, want no hint to name the image so", args, err)
			}
		}
	}
}
