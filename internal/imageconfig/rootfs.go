// Package imageconfig holds the checks of an image config that pull and load share.
package imageconfig

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/strata-run/strata/internal/quote"
)

// CheckRootFS refuses a config without a rootfs or with one whose type is not "layers". The
// image spec requires both and tells implementations to fail on another type; docker refuses
// a config without rootfs ("invalid rootfs in image configuration"). Without this check a
// config of null or {} read as an image of no layers that runs on any platform.
func CheckRootFS(raw []byte) error {
	var cfg struct {
		RootFS *struct {
			Type *string `json:"type"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return err
	}
	switch {
	case cfg.RootFS == nil:
		return errors.New("config has no rootfs")
	case cfg.RootFS.Type == nil:
		return errors.New("config's rootfs has no type")
	case *cfg.RootFS.Type != "layers":
		return fmt.Errorf(`config's rootfs type is %s, not "layers"`, quote.Value(*cfg.RootFS.Type))
	}
	return nil
}
