package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
)

// TestChildSizeLies: an index whose entry for this platform gives another size than its
// manifest's bytes is refused by a plain pull, in one line that says so, as `pull
// --all-platforms` (the store's verifyListed) and containerd refuse it. It was pulled: the
// bytes match the digest, and only --all-platforms looked at the size. An entry that names no
// platform, read to find one, is passed over when its size lies.
func TestChildSizeLies(t *testing.T) {
	const (
		ociManifest = "application/vnd.oci.image.manifest.v1+json"
		ociIndex    = "application/vnd.oci.image.index.v1+json"
	)
	sum := func(b string) string {
		h := sha256.Sum256([]byte(b))
		return "sha256:" + hex.EncodeToString(h[:])
	}
	plain := `{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + emptyConfig + `","size":2},"layers":[]}`
	const config = `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`
	unlabelled := `{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + sum(config) + `","size":` + strconv.Itoa(len(config)) + `},"layers":[]}`
	index := func(entry string) string {
		return `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[` + entry + `]}`
	}
	listed := func(body, size, platform string) string {
		return `{"mediaType":"` + ociManifest + `","digest":"` + sum(body) + `","size":` + size + platform + `}`
	}
	const amd64 = `,"platform":{"os":"linux","architecture":"amd64"}`
	right := strconv.Itoa(len(plain))
	tags := map[string]string{
		"right":      index(listed(plain, right, amd64)),
		"short":      index(listed(plain, strconv.Itoa(len(plain)-1), amd64)),
		"long":       index(listed(plain, strconv.Itoa(len(plain)+1), amd64)),
		"zero":       index(listed(plain, "0", amd64)),
		"negative":   index(listed(plain, "-5", amd64)),
		"huge":       index(listed(plain, "1152921504606846976", amd64)),
		"unlabelled": index(listed(unlabelled, "1", "")),
	}
	served := map[string][2]string{
		sum(plain):      {ociManifest, plain},
		sum(unlabelled): {ociManifest, unlabelled},
		emptyConfig:     {"application/octet-stream", "{}"},
		sum(config):     {"application/octet-stream", config},
	}
	for tag, body := range tags {
		served[tag] = [2]string{ociIndex, body}
	}
	host := servedObjects(t, served)
	opts := testOptions()
	opts.Platform.OS, opts.Platform.Architecture = "linux", "amd64"
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Image(context.Background(), mustRef(t, host+"/x/y:right")); err != nil {
		t.Fatalf("Image(an index whose entry is right) = %v", err)
	}
	for _, tag := range []string{"short", "long", "zero", "negative", "huge"} {
		t.Run(tag, func(t *testing.T) {
			_, err := p.Image(context.Background(), mustRef(t, host+"/x/y:"+tag))
			if err == nil {
				t.Fatal("Image() = nil error, want the entry's size refused")
			}
			msg := err.Error()
			if !strings.Contains(msg, "but its index gives") || strings.Contains(msg, "\n") {
				t.Errorf("Image() = %q, want one line that says the index gives another size", msg)
			}
		})
	}
	t.Run("unlabelled", func(t *testing.T) {
		_, err := p.Image(context.Background(), mustRef(t, host+"/x/y:unlabelled"))
		if err == nil || !strings.Contains(err.Error(), "no matching manifest") {
			t.Errorf("Image() = %v, want the entry passed over: no matching manifest", err)
		}
	})
}
