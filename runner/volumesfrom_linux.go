package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// ShareAnonymousVolumes moves each anonymous volume container c still keeps in its dir into
// the volume store beside its container store, under the name inspect gives it (VolumeName)
// and docker's anonymous label, and records in c's config.json that c mounts that stored
// volume: what a --volumes-from of c needs first, for a volume in a container's dir is
// mounted by that container only. It holds c's lock, then the volume store's (shared: no
// volume rm or prune removes the volume before c's config names it). A running c keeps its
// mount, which follows the directory it moved. The move is a rename over the stored
// volume's empty data dir: a share cut short is taken up again by the next one, which finds
// the data in the container's dir or already in the store.
func ShareAnonymousVolumes(ctx context.Context, c *Container) (err error) {
	if !slices.ContainsFunc(c.Config.Spec.Mounts, unsharedAnonymous) {
		return nil
	}
	unlock, err := c.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	var cfg Config
	if err := readJSON(filepath.Join(c.Dir, configFile), &cfg); err != nil {
		if errors.Is(err, os.ErrNotExist) && isGone(c.Dir) {
			return &removedError{id: c.ID, err: err}
		}
		return fmt.Errorf("reading container %s config: %w", shortID(c.ID), err)
	}
	if cfg.Spec.ID != "" && cfg.Spec.ID != c.ID {
		return fmt.Errorf("container %s: %w: %s is container %s's", shortID(c.ID), ErrBroken, configFile, shortID(cfg.Spec.ID))
	}
	cfg.Spec.ID, cfg.Spec.Dir = c.ID, c.Dir
	vs := OpenVolumeStore(VolumesDirOf(filepath.Dir(filepath.Clean(c.Dir))))
	vunlock, err := vs.Lock(ctx, false)
	if err != nil {
		return err
	}
	defer vunlock()
	changed := false
	for i, m := range cfg.Spec.Mounts {
		if !unsharedAnonymous(m) || m.Source == "" {
			continue
		}
		name := VolumeName(c.ID, m.Source)
		if err := checkAnonymousVolume(c, m); err != nil {
			// Moved by a share that was cut short before it recorded it?
			v, gerr := vs.Get(name)
			if gerr != nil || !errors.Is(err, os.ErrNotExist) || !isAnonymousVolume(v) {
				return err
			}
		} else if err := adoptVolume(vs, name, m.Source); err != nil {
			return fmt.Errorf("sharing the volume of container %s at %s: %w", shortID(c.ID), m.Target, err)
		}
		cfg.Spec.Mounts[i].Source = vs.DataDir(name)
		cfg.Spec.Mounts[i].Options = append(slices.Clone(m.Options), optVolumeNamePrefix+name, optAnonymous)
		changed = true
	}
	if !changed {
		return nil
	}
	c.Config = cfg
	return c.SaveConfig()
}

// adoptVolume makes dir, a container's anonymous volume, the data of the stored volume name:
// the volume is made (empty, with the anonymous label) as Create makes one, and dir renamed
// over its empty data dir, on the same filesystem.
func adoptVolume(vs *VolumeStore, name, dir string) error {
	v, _, err := vs.Create(name, map[string]string{AnonymousVolumeLabel: ""})
	if err != nil {
		return err
	}
	if !isAnonymousVolume(v) {
		return fmt.Errorf("a volume named %s exists already", name)
	}
	// rename(2) itself: os.Rename refuses any directory in the new name's place.
	if err := unix.Rename(dir, vs.DataDir(name)); err != nil {
		return fmt.Errorf("moving it into the volume store: %w", &os.LinkError{Op: "rename", Old: dir, New: vs.DataDir(name), Err: err})
	}
	if d, err := os.Open(filepath.Dir(vs.DataDir(name))); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// isAnonymousVolume says whether v carries docker's anonymous label.
func isAnonymousVolume(v *Volume) bool {
	_, ok := v.Labels[AnonymousVolumeLabel]
	return ok
}

// releaseWait bounds how long a removal waits for the volume store's lock to remove the
// anonymous volumes its container leaves unused: a run holds it shared while it copies an
// image's content into a new volume. A volume left then stays, dangling, for volume prune.
const releaseWait = 5 * time.Second

// sharedAnonymousVolumes returns the names of the stored anonymous volumes (shared by
// --volumes-from) that c mounts, as its config.json says now: a share may have rewritten it
// since c was read (a run --rm's monitor holds the config it started with).
func sharedAnonymousVolumes(c *Container) []string {
	if c.Broken != nil || c.notDir {
		return nil
	}
	mounts := c.Config.Spec.Mounts
	var cfg Config
	if err := readJSON(filepath.Join(c.Dir, configFile), &cfg); err == nil && (cfg.Spec.ID == "" || cfg.Spec.ID == c.ID) {
		mounts = cfg.Spec.Mounts
	}
	var names []string
	for _, m := range mounts {
		if name, ok := NamedVolume(m); ok && AnonymousNamed(m) && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// releaseAnonymousVolumes removes names, the stored anonymous volumes (shared by
// --volumes-from) that c, just removed, mounted, when no other container mounts them, as
// docker's rm -v removes an anonymous volume unless another container references it. Best
// effort: a volume it cannot remove stays, dangling, and volume prune removes it. While any
// container of the store cannot be read, nothing is removed: it may mount them.
func releaseAnonymousVolumes(c *Container, names []string) {
	if len(names) == 0 {
		return
	}
	storeDir := filepath.Dir(filepath.Clean(c.Dir))
	vs := OpenVolumeStore(VolumesDirOf(storeDir))
	ctx, cancel := context.WithTimeout(context.Background(), releaseWait)
	defer cancel()
	unlock, err := vs.Lock(ctx, true)
	if err != nil {
		return
	}
	defer unlock()
	list, err := (&Store{dir: storeDir}).List()
	if err != nil {
		return
	}
	used := map[string]bool{}
	for _, o := range list {
		if o.ID == c.ID {
			continue
		}
		if o.Broken != nil {
			return
		}
		for _, m := range o.Config.Spec.Mounts {
			if name, ok := NamedVolume(m); ok {
				used[name] = true
			}
		}
	}
	for _, name := range names {
		if v, err := vs.Get(name); err == nil && !used[name] && isAnonymousVolume(v) {
			_ = vs.Remove(name)
		}
	}
}
