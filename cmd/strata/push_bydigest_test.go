package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

// TestPushByDigest: `strata push NAME@DIGEST` pushes the image of NAME's tags that is DIGEST,
// by digest, moving no tag in the registry and adding no name to the store; NAME:TAG@DIGEST
// pushes NAME:TAG once it is DIGEST. Both said "image not found in the store; name one with
// 'strata tag IMAGE NAME@DIGEST' first", a command that refuses a digest.
func TestPushByDigest(t *testing.T) {
	root, host := busyboxToPush(t, "t/bb:1")
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	before, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	other := "sha256:" + strings.Repeat("0", 64)
	ctx := context.Background()
	p, err := registry.NewPuller(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	has := func(ref string) bool {
		r, err := registry.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Head(ctx, r)
		return err == nil
	}

	out, err := strata(t, root, nil, "push", host+"/t/bb@"+busyboxDigest)
	if err != nil || !strings.Contains(out, "digest: "+busyboxDigest) {
		t.Fatalf("push NAME@DIGEST = %q, %v", out, err)
	}
	if !has(host + "/t/bb@" + busyboxDigest) {
		t.Errorf("push NAME@DIGEST left no manifest under the digest")
	}
	if has(host + "/t/bb:1") {
		t.Errorf("push NAME@DIGEST moved tag 1 in the registry")
	}
	after, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("push NAME@DIGEST changed the store's names: %v, was %v", after, before)
	}

	if out, err := strata(t, root, nil, "push", host+"/t/bb:1@"+busyboxDigest); err != nil || !strings.Contains(out, "1: digest: "+busyboxDigest) {
		t.Fatalf("push NAME:TAG@DIGEST = %q, %v", out, err)
	}
	if !has(host + "/t/bb:1") {
		t.Errorf("push NAME:TAG@DIGEST did not push the tag")
	}

	for _, arg := range []string{host + "/t/bb@" + other, host + "/t/bb:1@" + other, host + "/t/bb:2@" + busyboxDigest, host + "/t/none@" + busyboxDigest} {
		_, err := strata(t, root, nil, "push", arg)
		if err == nil || strings.Contains(err.Error(), "strata tag") || strings.ContainsAny(err.Error(), "\n\r") {
			t.Errorf("push %s = %v, want one line saying which image is not in the store, with no 'strata tag' hint", arg, err)
		}
		if err != nil {
			t.Logf("push %s = %v", arg, err)
		}
	}
	if has(host + "/t/bb@" + other) {
		t.Errorf("a push of a digest not in the store put something under it")
	}
}
