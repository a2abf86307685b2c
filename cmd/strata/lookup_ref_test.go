package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestLookupRefusesMalformedReference: the commands that look an image up (rmi, tag's
// source, save, image inspect, history, images --filter since=/before=) refuse a name that is
// no reference with docker's "invalid reference format: …", as run and create do, where they
// said "image ALPINE is not in the store", which sent users looking for an image. An image ID
// (whole, as 64 hex digits, or a prefix) is still looked for, and a name another tool wrote
// into the store's index.json as it is still finds its image.
func TestLookupRefusesMalformedReference(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "x.tar")
	commands := func(arg string) [][]string {
		return [][]string{
			{"rmi", arg}, {"tag", arg, "x"}, {"save", "-o", out, arg}, {"image", "inspect", arg},
			{"history", arg}, {"images", "-f", "since=" + arg}, {"images", "-f", "before=" + arg},
		}
	}
	for _, arg := range []string{"ALPINE", "alpine:", "a//b", "alpine@sha256:short", "-", "\x1b[2J"} {
		for _, args := range commands(arg) {
			_, err := strata(t, root, nil, args...)
			if err == nil || !strings.Contains(err.Error(), "invalid reference format") || strings.Contains(err.Error(), "\x1b") {
				t.Errorf("%q = %v, want invalid reference format, escaped", args, err)
			}
		}
	}
	for _, arg := range []string{strings.Repeat("0", 64), "0000000000000", "sha256:0000"} {
		for _, args := range commands(arg) {
			_, err := strata(t, root, nil, args...)
			if err == nil || !strings.Contains(err.Error(), "is not in the store") {
				t.Errorf("%q = %v, want not in the store", args, err)
			}
		}
	}
	// A name in index.json that is no reference, as another tool may write it, is looked for
	// as it is.
	path := filepath.Join((&globals{root: root}).storeDir(), "index.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	idx.Manifests[0].Annotations = map[string]string{"org.opencontainers.image.ref.name": "UPPER"}
	if raw, err = json.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "image", "inspect", "UPPER"); err != nil {
		t.Errorf("image inspect UPPER, a name in index.json = %v", err)
	}
}
