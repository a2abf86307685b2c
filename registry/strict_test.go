package registry

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestAmbiguousManifestRefused: manifests and indexes that Go's decoder reads other than as
// written (a key twice, the last winning; a key folded onto a field: "LAYERS", "layerſ") are
// refused, by tag, as a platform's manifest, and read through an index; what differs only in
// the letter of a map's keys, or in nothing Go reads, is not.
func TestAmbiguousManifestRefused(t *testing.T) {
	const (
		ociManifest = "application/vnd.oci.image.manifest.v1+json"
		ociIndex    = "application/vnd.oci.image.index.v1+json"
	)
	config := `{"architecture":"` + runtime.GOARCH + `","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`
	configDesc := `{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + sha256Of(config) + `","size":` + fmt.Sprint(len(config)) + `}`
	layer := `{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + sha256Of("x") + `","size":1}`
	manifest := func(rest string) string {
		return `{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":` + configDesc + `,` + rest + `}`
	}
	plain := manifest(`"layers":[]`)
	platform := `"platform":{"os":"linux","architecture":"` + runtime.GOARCH + `"}`
	index := func(entry string) string {
		return `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[` + entry + `]}`
	}
	listing := func(body, extra string) string {
		return `{"mediaType":"` + ociManifest + `","digest":"` + sha256Of(body) + `","size":` + fmt.Sprint(len(body)) + `,` + platform + extra + `}`
	}
	tests := []struct {
		name      string
		manifest  string
		ambiguous bool
	}{
		{"plain", plain, false},
		{"layers twice", manifest(`"layers":[],"layers":[` + layer + `]`), true},
		{"layers twice, one escaped", manifest(`"layers":[` + layer + `],"\u006cayers":[]`), true},
		{"layers in capitals", manifest(`"LAYERS":[` + layer + `]`), true},
		{"layers folded with a long s", manifest(`"layers":[` + layer + `],"layer\u017f":[]`), true},
		{"mediaType twice", `{"schemaVersion":2,"mediaType":"` + ociIndex + `","mediaType":"` + ociManifest + `","config":` + configDesc + `,"layers":[]}`, true},
		{"a layer's digest in capitals", manifest(`"layers":[{"mediaType":"x","Digest":"` + sha256Of("x") + `","size":1}]`), true},
		{"a layer's size twice", manifest(`"layers":[{"mediaType":"x","digest":"` + sha256Of("x") + `","size":1,"size":2}]`), true},
		{"an annotation twice", manifest(`"layers":[],"annotations":{"a":"1","a":"2"}`), true},
		{"annotations differing in case", manifest(`"layers":[],"annotations":{"org.x":"1","ORG.X":"2"}`), false},
		{"an unknown field", manifest(`"layers":[],"x-extension":{"Layers":1}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			byTag := index(listing(tt.manifest, ""))
			host := servedObjects(t, map[string][2]string{
				"1":                   {ociManifest, tt.manifest},
				"2":                   {ociIndex, byTag},
				sha256Of(tt.manifest): {ociManifest, tt.manifest},
				sha256Of(config):      {"application/octet-stream", config},
			})
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, tag := range []string{"1", "2"} {
				_, err := p.Image(ctx, mustRef(t, host+"/strict/keys:"+tag))
				if got := err != nil && strings.Contains(err.Error(), "ambiguous"); got != tt.ambiguous {
					t.Errorf("Image(:%s) = %v, want ambiguous %v", tag, err, tt.ambiguous)
				}
			}
			idx, err := p.Index(ctx, mustRef(t, host+"/strict/keys:2"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = idx.Image(v1.Hash{Algorithm: "sha256", Hex: sha256Of(tt.manifest)[7:]})
			if got := err != nil && strings.Contains(err.Error(), "ambiguous"); got != tt.ambiguous {
				t.Errorf("Index.Image = %v, want ambiguous %v", err, tt.ambiguous)
			}
		})
	}

	// The same in an index: its own fields, an entry's, an entry's platform's.
	for _, tt := range []struct{ name, index string }{
		{"manifests twice", `{"schemaVersion":2,"manifests":[],"manifests":[` + listing(plain, "") + `]}`},
		{"a platform in capitals", index(`{"mediaType":"` + ociManifest + `","digest":"` + sha256Of(plain) + `","size":` + fmt.Sprint(len(plain)) + `,"PLATFORM":{"os":"linux","architecture":"` + runtime.GOARCH + `"}}`)},
		{"a platform's os twice", index(listing(plain, `,"platform":{"os":"windows","os":"linux","architecture":"`+runtime.GOARCH+`"}`))},
		{"a platform's os folded", index(`{"mediaType":"` + ociManifest + `","digest":"` + sha256Of(plain) + `","size":` + fmt.Sprint(len(plain)) + `,"platform":{"OS":"linux","architecture":"` + runtime.GOARCH + `"}}`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			host := servedObjects(t, map[string][2]string{
				"1":              {ociIndex, tt.index},
				sha256Of(plain):  {ociManifest, plain},
				sha256Of(config): {"application/octet-stream", config},
			})
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			ref := mustRef(t, host+"/strict/index:1")
			if _, err := p.Image(context.Background(), ref); err == nil || !strings.Contains(err.Error(), "ambiguous") {
				t.Errorf("Image = %v, want ambiguous", err)
			}
			if _, err := p.Index(context.Background(), ref); err == nil || !strings.Contains(err.Error(), "ambiguous") {
				t.Errorf("Index = %v, want ambiguous", err)
			}
		})
	}
}
