package testimages

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Seed pushes the fixture images to a plain-HTTP registry at host ("127.0.0.1:5000") under
// the names Docker Hub uses: library/alpine:3.20.3 and :latest (the two-platform index),
// library/alpine:3.19 (amd64 only) and library/busybox:1.38.0-musl (the upstream layout).
func Seed(ctx context.Context, testdata, host string) error {
	alpine, err := AlpineIndex(testdata, AlpineVersion)
	if err != nil {
		return err
	}
	for _, tag := range []string{AlpineVersion, "3.20", "latest"} {
		ref, err := name.NewTag(host+"/library/alpine:"+tag, name.Insecure)
		if err != nil {
			return err
		}
		if err := remote.WriteIndex(ref, alpine, remote.WithContext(ctx)); err != nil {
			return fmt.Errorf("pushing %s: %w", ref, err)
		}
	}
	old, err := RootfsImage(testdata+"/alpine/alpine-minirootfs-3.19.4-x86_64.tar.gz", alpineArch["amd64"].platform, alpineCreated)
	if err != nil {
		return err
	}
	oldRef, err := name.NewTag(host+"/library/alpine:3.19", name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(oldRef, old, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("pushing %s: %w", oldRef, err)
	}
	bb, err := Busybox(testdata)
	if err != nil {
		return err
	}
	bbRef, err := name.NewTag(host+"/library/busybox:1.38.0-musl", name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(bbRef, bb, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("pushing %s: %w", bbRef, err)
	}
	return nil
}
