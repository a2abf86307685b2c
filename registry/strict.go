package registry

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/strata-run/strata/internal/manifestkeys"
)

// errEmptyManifest is a manifest or index the registry sent as no bytes at all.
var errEmptyManifest = errors.New("empty manifest")

// checkManifestKeys refuses a manifest or index (named by what) that Go would read other than
// as written (see manifestkeys). Call it after checkValues, which bounds the walk.
func checkManifestKeys(b []byte, what, host string) error {
	if err := manifestkeys.Check(b); err != nil {
		return &Error{Registry: host, Err: err, Msg: fmt.Sprintf("%s from %s is ambiguous: %s", what, host, err)}
	}
	return nil
}

// checkManifest is checkValues then checkManifestKeys, for a manifest or index. An empty body
// is said to be one: the JSON decoder's "EOF" said nothing of what was wrong.
func checkManifest(b []byte, what, host string) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return &Error{Registry: host, Err: errEmptyManifest, Msg: fmt.Sprintf("%s from %s is empty", what, host)}
	}
	if err := checkValues(b, what, host); err != nil {
		return err
	}
	return checkManifestKeys(b, what, host)
}
