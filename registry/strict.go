package registry

import (
	"fmt"

	"github.com/strata-run/strata/internal/manifestkeys"
)

// checkManifestKeys refuses a manifest or index (named by what) that Go would read other than
// as written (see manifestkeys). Call it after checkValues, which bounds the walk.
func checkManifestKeys(b []byte, what, host string) error {
	if err := manifestkeys.Check(b); err != nil {
		return &Error{Registry: host, Err: err, Msg: fmt.Sprintf("%s from %s is ambiguous: %s", what, host, err)}
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
