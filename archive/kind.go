package archive

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/internal/manifestkind"
	"github.com/strata-run/strata/registry"
)

// A manifest's media type comes from the descriptor that lists it, and its own mediaType
// field may say otherwise. pull settles both (registry's manifestType) and load does the
// same here (both read bodies with manifestkind.Of), for the same reasons: a body with the fields of the other kind than its
// descriptor's (an index with a config and layers, CVE-2021-41190) is read as one thing by
// strata and as the other by a client that trusts the body, under one digest, and containerd
// refuses it (docker load among them); and the type recorded with a manifest is the
// Content-Type serve sends back and push sends, which clients and registries check against
// the body's own: docker refuses a Docker schema 2 Content-Type on an OCI manifest, and a
// registry a push of one.

// kindConflict refuses the manifest d, of media type mt and bytes raw, when its body has the
// fields of the other kind than mt, or of both. A body that is not JSON is left to the
// parser, which says what is wrong with it.
func kindConflict(d v1.Descriptor, mt types.MediaType, raw []byte) error {
	k, ok := manifestkind.Of(raw)
	switch {
	case !ok:
	case mt.IsIndex() && k.Image:
		return fmt.Errorf("manifest %s: %w: %s, but its body has an image manifest's fields", short(d.Digest), registry.ErrUnsupportedMediaType, quoted(string(mt)))
	case !mt.IsIndex() && k.Index:
		return fmt.Errorf("manifest %s: %w: %s, but its body has an index's fields", short(d.Digest), registry.ErrUnsupportedMediaType, quoted(string(mt)))
	}
	return nil
}

// ownType is the media type the body raw gives itself when it is another of the same kind
// as mt (Docker's and OCI's image manifests, or their indexes): the body is what the digest
// covers, the descriptor only the archive's word. Otherwise mt.
func ownType(mt types.MediaType, raw []byte) types.MediaType {
	k, ok := manifestkind.Of(raw)
	if !ok {
		return mt
	}
	switch own := k.Own; {
	case mt.IsIndex() && (own == types.OCIImageIndex || own == types.DockerManifestList),
		mt.IsImage() && (own == types.OCIManifestSchema1 || own == types.DockerManifestSchema2):
		return own
	}
	return mt
}
