// Package manifestkeys refuses a manifest or index that Go's JSON decoder reads other than
// as written. Go reads a key given twice in one object as its last (other parsers take the
// first, or refuse), and matches a key to a field case-insensitively, with Unicode folding
// ("LAYERS", "layerſ" are "layers"). A manifest so written means one image to strata and
// another to a scanner or a registry that checks it, under the same digest: the ambiguity of
// CVE-2021-41190, by other means. Pull (registry) and load (archive) refuse it alike.
package manifestkeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/strata-run/strata/internal/quote"
)

// The fields of the objects whose keys Go matches case-insensitively (image-spec manifest.md,
// image-index.md, descriptor.md). Annotations are maps, whose keys Go matches exactly.
var (
	manifestFields   = fieldSet("schemaVersion", "mediaType", "artifactType", "config", "layers", "manifests", "subject", "annotations")
	descriptorFields = fieldSet("mediaType", "digest", "size", "urls", "annotations", "data", "platform", "artifactType")
	platformFields   = fieldSet("architecture", "os", "os.version", "os.features", "variant", "features")
)

func fieldSet(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// AmbiguousError is a key of a manifest or index that Go would read other than as written.
type AmbiguousError struct{ msg string }

func (e *AmbiguousError) Error() string { return e.msg }

// Check returns an *AmbiguousError when Go would read the manifest or index b other than as
// written: a key twice in one object, or a key of a manifest, index, descriptor or platform
// that is a field's name only when folded. A body that is not JSON is left to the parser,
// which says what is wrong with it (nil). Bound the values of b first (jsonvalues), which
// bounds the walk.
func Check(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err := walkKeys(dec, manifestFields)
	var ambiguous *AmbiguousError
	if errors.As(err, &ambiguous) {
		return ambiguous
	}
	return nil
}

// walkKeys reads one value from dec. fields, when not nil, are the field names of the object
// expected there.
func walkKeys(dec *json.Decoder, fields map[string]bool) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('['):
		for dec.More() {
			if err := walkKeys(dec, fields); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, ok := tok.(string)
			if !ok {
				return io.ErrUnexpectedEOF
			}
			if seen[key] {
				return &AmbiguousError{fmt.Sprintf("key %s given twice in one object", quote.Value(key))}
			}
			seen[key] = true
			if fields != nil && !fields[key] {
				for f := range fields {
					if strings.EqualFold(key, f) {
						return &AmbiguousError{fmt.Sprintf("key %s is read as %q", quote.Value(key), f)}
					}
				}
			}
			if err := walkKeys(dec, childFields(fields, key)); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}

// childFields are the field names of the object under key in an object of fields: the
// descriptors of a manifest or index, a descriptor's platform; nil for anything else.
func childFields(fields map[string]bool, key string) map[string]bool {
	switch {
	case fields == nil || !fields[key]:
		return nil
	case key == "config" || key == "subject" || key == "layers" || key == "manifests":
		return descriptorFields
	case key == "platform":
		return platformFields
	}
	return nil
}
