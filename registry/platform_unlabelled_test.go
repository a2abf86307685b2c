package registry

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
)

// TestIndexEntriesWithoutPlatform: an index whose entries name no platform is pulled for the
// entry whose config says the platform wanted, as docker and containerd pull it; strata
// refused it ("no matching manifest for linux/amd64 … (available: none)"). An entry that names
// the platform still wins, whatever its place, and an index of none for it is still refused.
func TestIndexEntriesWithoutPlatform(t *testing.T) {
	const (
		ociManifest = "application/vnd.oci.image.manifest.v1+json"
		ociIndex    = "application/vnd.oci.image.index.v1+json"
	)
	other := "s390x"
	if runtime.GOARCH == other {
		other = "ppc64le"
	}
	objs := map[string][2]string{}
	image := func(arch string) string {
		cfg := `{"architecture":"` + arch + `","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`
		objs[sha256Of(cfg)] = [2]string{"application/octet-stream", cfg}
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[]}`,
			ociManifest, sha256Of(cfg), len(cfg))
		objs[sha256Of(m)] = [2]string{ociManifest, m}
		return m
	}
	entry := func(m, platform string) string {
		e := fmt.Sprintf(`{"mediaType":"%s","digest":"%s","size":%d`, ociManifest, sha256Of(m), len(m))
		if platform != "" {
			e += `,"platform":{"os":"linux","architecture":"` + platform + `"}`
		}
		return e + "}"
	}
	index := func(entries ...string) [2]string {
		s := `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[`
		for i, e := range entries {
			if i > 0 {
				s += ","
			}
			s += e
		}
		return [2]string{ociIndex, s + "]}"}
	}
	mine, theirs := image(runtime.GOARCH), image(other)
	// A labelled entry whose config says otherwise: the label is what counts, as before.
	labelled := image("labelled-" + runtime.GOARCH)
	objs["unlabelled"] = index(entry(theirs, ""), entry(mine, ""))
	objs["labelled-later"] = index(entry(mine, ""), entry(labelled, runtime.GOARCH))
	objs["none-mine"] = index(entry(theirs, ""))
	host := servedObjects(t, objs)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	for tag, want := range map[string]string{"unlabelled": sha256Of(mine), "labelled-later": sha256Of(labelled)} {
		img, err := p.Image(context.Background(), mustRef(t, host+"/a/b:"+tag))
		if err != nil {
			t.Errorf("Image(%s) = %v, want %s", tag, err, want)
			continue
		}
		if img.Descriptor.Digest.String() != want || img.Descriptor.Platform == nil || img.Descriptor.Platform.Architecture != runtime.GOARCH {
			t.Errorf("Image(%s) = %s for %v, want %s for %s", tag, img.Descriptor.Digest, img.Descriptor.Platform, want, runtime.GOARCH)
		}
	}
	if _, err := p.Image(context.Background(), mustRef(t, host+"/a/b:none-mine")); !errors.Is(err, ErrNoMatchingPlatform) {
		t.Errorf("Image of an index of another platform's unlabelled entry = %v, want ErrNoMatchingPlatform", err)
	}
}
