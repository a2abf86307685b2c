// Package manifestkind reads what a manifest body says of its kind, an index or an image
// manifest, as containerd reads it: pull (registry) and load (archive) both refuse a body
// whose fields are of the other kind than its media type (CVE-2021-41190), and must agree on
// which bodies those are, or an image that loads would not pull.
package manifestkind

import (
	"encoding/json"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Kind is what a manifest body says of its kind.
type Kind struct {
	// Own is the body's own mediaType field, "" if it has none.
	Own types.MediaType
	// Index is true when the body has an index's fields (a non-empty manifests list) or calls
	// itself an index; Image when it has an image manifest's (a config that is not null, a
	// non-empty layers list) or calls itself one.
	Index, Image bool
}

// Of reads the kind of the body raw; false if it is not JSON (left to the parser, which says
// what is wrong with it). An empty list or a null config is no field at all, as containerd
// reads them: an index that says "layers": [] or "config": null is an index.
func Of(raw []byte) (Kind, bool) {
	var probe struct {
		MediaType types.MediaType   `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
		Config    json.RawMessage   `json:"config"`
		Layers    []json.RawMessage `json:"layers"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return Kind{}, false
	}
	return Kind{
		Own:   probe.MediaType,
		Index: len(probe.Manifests) != 0 || probe.MediaType.IsIndex(),
		Image: (len(probe.Config) != 0 && string(probe.Config) != "null") || len(probe.Layers) != 0 || probe.MediaType.IsImage(),
	}, true
}
