package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/mount"
)

// CheckPropagation refuses, as docker's daemon does, a bind that asks for shared propagation
// of a host path whose mount is not shared, or for slave propagation of one whose mount is
// neither shared nor a slave: the option could do nothing, the bind would be private. The
// mount is the one the path, or the nearest of its parents that exists (-v creates a missing
// source), is on.
func CheckPropagation(mounts []mount.Mount) error {
	var infos []*mountinfo.Info
	for _, m := range mounts {
		if m.Type != "bind" {
			continue
		}
		p := userMountStep(m).Propagation
		if p&(unix.MS_SHARED|unix.MS_SLAVE) == 0 {
			continue
		}
		if infos == nil {
			var err error
			if infos, err = mount.Mounts(nil); err != nil {
				return fmt.Errorf("reading the host's mounts: %w", err)
			}
		}
		src := existingPath(m.Source)
		var on *mountinfo.Info
		for _, i := range infos {
			if (src == i.Mountpoint || i.Mountpoint == "/" || strings.HasPrefix(src, i.Mountpoint+"/")) &&
				(on == nil || len(i.Mountpoint) >= len(on.Mountpoint)) {
				on = i
			}
		}
		if on == nil {
			continue
		}
		shared := strings.Contains(" "+on.Optional, " shared:")
		slave := strings.Contains(" "+on.Optional, " master:")
		switch {
		case p&unix.MS_SHARED != 0 && !shared:
			return fmt.Errorf("path %s is mounted on %s but it is not a shared mount", m.Source, on.Mountpoint)
		case p&unix.MS_SLAVE != 0 && !shared && !slave:
			return fmt.Errorf("path %s is mounted on %s but it is not a shared or slave mount", m.Source, on.Mountpoint)
		}
	}
	return nil
}

// existingPath is p with its symlinks resolved, or, when p does not exist, the nearest of its
// parents that does.
func existingPath(p string) string {
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		} else if !errors.Is(err, os.ErrNotExist) || p == "/" {
			return p
		}
		p = filepath.Dir(p)
	}
}
