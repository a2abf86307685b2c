package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Go's JSON decoder reads a manifest other than the letter of it in two ways: of a key given
// twice, the last wins (other parsers take the first, or refuse), and a key matches a field
// case-insensitively, with Unicode folding ("LAYERS", "layerſ" are "layers"). A manifest so
// written means one image to strata and another to a scanner or a registry that checks it,
// under the same digest: the ambiguity of CVE-2021-41190, by other means. strata refuses
// what it would read differently from the letter: a key twice in one object, and a key of a
// manifest, index, descriptor or platform that is a field's name only when folded.

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

// checkManifestKeys refuses a manifest or index (named by what) that Go would read other
// than as written; see above. Call it after checkValues, which bounds the walk. A body that
// is not JSON is left to the parser, which says what is wrong with it.
func checkManifestKeys(b []byte, what, host string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err := walkKeys(dec, manifestFields)
	var ambiguous *ambiguousKey
	if errors.As(err, &ambiguous) {
		return &Error{Registry: host, Err: err, Msg: fmt.Sprintf("%s from %s is ambiguous: %s", what, host, err)}
	}
	return nil
}

// ambiguousKey is a key that Go would read other than as written.
type ambiguousKey struct{ msg string }

func (e *ambiguousKey) Error() string { return e.msg }

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
				return &ambiguousKey{fmt.Sprintf("key %s given twice in one object", oneLine(fmt.Sprintf("%q", key)))}
			}
			seen[key] = true
			if fields != nil && !fields[key] {
				for f := range fields {
					if strings.EqualFold(key, f) {
						return &ambiguousKey{fmt.Sprintf("key %s is read as %q", oneLine(fmt.Sprintf("%q", key)), f)}
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

// checkManifest is checkValues then checkManifestKeys, for a manifest or index.
func checkManifest(b []byte, what, host string) error {
	if err := checkValues(b, what, host); err != nil {
		return err
	}
	return checkManifestKeys(b, what, host)
}
