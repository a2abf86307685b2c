package archive

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/registry"
)

// A manifest's media type comes from the descriptor that lists it, and its own mediaType
// field may say otherwise. pull settles both (registry's manifestType) and load does the
// same here, for the same reasons: a body with the fields of the other kind than its
// descriptor's (an index with a config and layers, CVE-2021-41190) is read as one thing by
// strata and as the other by a client that trusts the body, under one digest, and containerd
// refuses it (docker load among them); and the type recorded with a manifest is the
// Content-Type serve sends back and push sends, which clients and registries check against
// the body's own: docker refuses a Docker schema 2 Content-Type on an OCI manifest, and a
// registry a push of one.

// kindOf is what a manifest body says of its kind: the fields and the mediaType it has.
type kindOf struct {
	own          types.MediaType
	index, image bool
}

func bodyKind(raw []byte) (kindOf, bool) {
	var probe struct {
		MediaType types.MediaType   `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
		Config    json.RawMessage   `json:"config"`
		Layers    []json.RawMessage `json:"layers"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return kindOf{}, false
	}
	// An empty list or a null config is no field of the other kind, as containerd reads it.
	return kindOf{
		own:   probe.MediaType,
		index: len(probe.Manifests) != 0 || probe.MediaType.IsIndex(),
		image: (len(probe.Config) != 0 && string(probe.Config) != "null") || len(probe.Layers) != 0 || probe.MediaType.IsImage(),
	}, true
}

// kindConflict refuses the manifest d, of media type mt and bytes raw, when its body has the
// fields of the other kind than mt, or of both. A body that is not JSON is left to the
// parser, which says what is wrong with it.
func kindConflict(d v1.Descriptor, mt types.MediaType, raw []byte) error {
	k, ok := bodyKind(raw)
	switch {
	case !ok:
	case mt.IsIndex() && k.image:
		return fmt.Errorf("manifest %s: %w: %s, but its body has an image manifest's fields", short(d.Digest), registry.ErrUnsupportedMediaType, quoted(string(mt)))
	case !mt.IsIndex() && k.index:
		return fmt.Errorf("manifest %s: %w: %s, but its body has an index's fields", short(d.Digest), registry.ErrUnsupportedMediaType, quoted(string(mt)))
	}
	return nil
}

// ownType is the media type the body raw gives itself when it is another of the same kind
// as mt (Docker's and OCI's image manifests, or their indexes): the body is what the digest
// covers, the descriptor only the archive's word. Otherwise mt.
func ownType(mt types.MediaType, raw []byte) types.MediaType {
	k, ok := bodyKind(raw)
	if !ok {
		return mt
	}
	switch own := k.own; {
	case mt.IsIndex() && (own == types.OCIImageIndex || own == types.DockerManifestList),
		mt.IsImage() && (own == types.OCIManifestSchema1 || own == types.DockerManifestSchema2):
		return own
	}
	return mt
}
