package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/lockfile"
	"github.com/strata-run/strata/internal/safefile"
	"github.com/strata-run/strata/mount"
)

// Files of a named volume's dir, <root>/volumes/<name>, as docker lays out
// /var/lib/docker/volumes: the data the containers see, and what strata knows of the volume.
const (
	volumeDataDir  = "_data"
	volumeMetaFile = "volume.json"
	// NamedVolumesDir is the folder of the store's root that holds the named volumes.
	NamedVolumesDir = "volumes"
)

// ErrNoSuchVolume: no volume of that name.
var ErrNoSuchVolume = errors.New("no such volume")

// ErrVolumeInUse: a container (running or not) mounts the volume.
var ErrVolumeInUse = errors.New("volume is in use")

// VolumeStore is the set of named volumes under one directory, <root>/volumes. Every strata
// process reads and writes it; its flock (Lock) keeps a removal from the runs that mount the
// volume, and each volume dir's own flock (LockVolume) one copy into an empty volume from
// another.
type VolumeStore struct {
	dir string
}

// OpenVolumeStore returns the volume store at dir; nothing is made before a volume is.
func OpenVolumeStore(dir string) *VolumeStore { return &VolumeStore{dir: filepath.Clean(dir)} }

// VolumesDirOf is the volume store beside the container store at containersDir, both in
// strata's root.
func VolumesDirOf(containersDir string) string {
	return filepath.Join(filepath.Dir(filepath.Clean(containersDir)), NamedVolumesDir)
}

// Dir returns the store's directory.
func (s *VolumeStore) Dir() string { return s.dir }

// DataDir is the Mountpoint of the volume name: what a container mounts.
func (s *VolumeStore) DataDir(name string) string {
	return filepath.Join(s.dir, name, volumeDataDir)
}

// Volume is a named volume as docker's volume inspect shows it.
type Volume struct {
	CreatedAt  string
	Driver     string
	Labels     map[string]string
	Mountpoint string
	Name       string
	Options    map[string]string
	Scope      string
	// Created is CreatedAt as a time, for sorting and filters.
	Created time.Time `json:"-"`
}

// volumeMeta is a volume's volume.json.
type volumeMeta struct {
	Name      string            `json:"name"`
	CreatedAt time.Time         `json:"created"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// maxVolumeMeta bounds a volume.json: labels, as a container's config.
const maxVolumeMeta = 1 << 20

// mkdir makes the store's dir, 0700 as the container store's (a volume holds the image's
// setuid files as they are), and refuses one that is a symlink.
func (s *VolumeStore) mkdir() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("opening volume store: %w", err)
	}
	return safefile.OwnDirs("the volume store", s.dir)
}

// Lock locks the store, shared for a run that mounts volumes (from their lookup to the
// container's record) and exclusive for a removal, which must see every container that uses
// a volume. The flock is on the store's dir itself: no lock file to replace or leave behind.
func (s *VolumeStore) Lock(ctx context.Context, exclusive bool) (unlock func(), err error) {
	if err := s.mkdir(); err != nil {
		return nil, err
	}
	return flockDir(ctx, s.dir, exclusive)
}

// LockVolume locks the dir of volume name exclusively: one copy of an image's content into an
// empty volume at a time. The caller holds Lock, so the volume is not removed meanwhile.
func (s *VolumeStore) LockVolume(ctx context.Context, name string) (unlock func(), err error) {
	f, err := s.openVolume(name)
	if err != nil {
		return nil, err
	}
	return flockFile(ctx, f, true)
}

// flockDir flocks dir, refusing a symlink in its place.
func flockDir(ctx context.Context, dir string, exclusive bool) (func(), error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return flockFile(ctx, os.NewFile(uintptr(fd), dir), exclusive)
}

// flockFile flocks f, polling until ctx is done as lockfile.Wait; the lock goes with f.
func flockFile(ctx context.Context, f *os.File, exclusive bool) (func(), error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, context.Cause(ctx)
		case <-time.After(lockfile.Retry):
		}
	}
}

// beneath opens name below the directory dirfd: never through a symlink, never out of it
// (openat2's RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS; a kernel without openat2 gets
// O_NOFOLLOW, enough for the one component a checked name is). It must be a directory.
func beneath(dirfd int, dirPath, name string) (*os.File, error) {
	p := filepath.Join(dirPath, name)
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	}
	fd, err := unix.Openat2(dirfd, name, &how)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		fd, err = unix.Openat(dirfd, name, int(how.Flags), 0)
	}
	if errors.Is(err, unix.ENOTDIR) {
		// O_DIRECTORY answers first for a symlink; say which it is.
		var st unix.Stat_t
		if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			err = unix.ELOOP
		}
	}
	switch {
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("%s is a symlink: a volume's directories must be its own", p)
	case errors.Is(err, unix.ENOTDIR):
		return nil, fmt.Errorf("%s is not a directory", p)
	case errors.Is(err, unix.EXDEV):
		return nil, fmt.Errorf("%s is a mount point: a volume's directories must be its own", p)
	case err != nil:
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// openVolume opens the dir of volume name, after checking the name, and checks its _data is
// a directory of its own: a volume dir or data dir that a symlink replaced (on disk, by hand
// or by an attacker) would have containers write wherever it leads. ErrNoSuchVolume when
// there is none.
func (s *VolumeStore) openVolume(name string) (*os.File, error) {
	f, err := s.openVolumeDir(name)
	if err != nil {
		return nil, err
	}
	data, err := beneath(int(f.Fd()), f.Name(), volumeDataDir)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("volume %s: %w", name, err)
	}
	data.Close()
	return f, nil
}

// openVolumeDir opens the dir of volume name, after checking the name: a dir of the store's
// own, neither a symlink nor a mount point, whatever its _data is. ErrNoSuchVolume when
// there is none.
func (s *VolumeStore) openVolumeDir(name string) (*os.File, error) {
	if err := ValidateVolumeName(name); err != nil {
		return nil, err
	}
	root, err := unix.Open(s.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchVolume, name)
	}
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return nil, safefile.OwnDirs("the volume store", s.dir)
		}
		return nil, &os.PathError{Op: "open", Path: s.dir, Err: err}
	}
	defer unix.Close(root)
	f, err := beneath(root, s.dir, name)
	if errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchVolume, name)
	}
	return f, err
}

// Check says whether volume name exists and its dirs are its own, as a container's start
// wants before the init binds its data dir.
func (s *VolumeStore) Check(name string) error {
	f, err := s.openVolume(name)
	if err != nil {
		return err
	}
	return f.Close()
}

// Get reads volume name.
func (s *VolumeStore) Get(name string) (*Volume, error) {
	f, err := s.openVolume(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fd, err := unix.Openat(int(f.Fd()), volumeMetaFile, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("volume %s: reading %s: %w", name, volumeMetaFile, err)
	}
	mf := os.NewFile(uintptr(fd), filepath.Join(f.Name(), volumeMetaFile))
	defer mf.Close()
	var meta volumeMeta
	if fi, err := mf.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() > maxVolumeMeta {
		return nil, fmt.Errorf("volume %s: %s is not a file strata wrote", name, volumeMetaFile)
	}
	if err := json.NewDecoder(mf).Decode(&meta); err != nil || meta.Name != name {
		return nil, fmt.Errorf("volume %s: %s is damaged", name, volumeMetaFile)
	}
	return &Volume{
		CreatedAt:  meta.CreatedAt.Local().Format(time.RFC3339),
		Created:    meta.CreatedAt,
		Driver:     "local",
		Labels:     meta.Labels,
		Mountpoint: s.DataDir(name),
		Name:       name,
		Scope:      "local",
	}, nil
}

// Create makes volume name (a new random one for ""), with labels; an existing one is
// returned as it is, created false, as docker's volume create of an existing name does. The
// volume is made in a temp dir and renamed into place, whole.
func (s *VolumeStore) Create(name string, labels map[string]string) (v *Volume, created bool, err error) {
	if name == "" {
		if name, err = NewID(); err != nil {
			return nil, false, err
		}
	}
	if err := ValidateVolumeName(name); err != nil {
		return nil, false, err
	}
	if v, err := s.Get(name); !errors.Is(err, ErrNoSuchVolume) {
		return v, false, err
	}
	meta, err := json.Marshal(volumeMeta{Name: name, CreatedAt: time.Now().UTC().Truncate(time.Second), Labels: labels})
	if err != nil {
		return nil, false, err
	}
	if len(meta) > maxVolumeMeta {
		// Get would not read it back: the volume would be made, and refused by everything.
		return nil, false, fmt.Errorf("creating volume %s: its labels take %d bytes in %s, over the %d strata keeps for a volume",
			name, len(meta), volumeMetaFile, maxVolumeMeta)
	}
	if err := s.mkdir(); err != nil {
		return nil, false, err
	}
	tmp, err := os.MkdirTemp(s.dir, ".tmp-")
	if err != nil {
		return nil, false, fmt.Errorf("creating volume %s: %w", name, err)
	}
	defer func() {
		if tmp != "" {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, false, err
	}
	if err := os.Mkdir(filepath.Join(tmp, volumeDataDir), 0o755); err != nil {
		return nil, false, fmt.Errorf("creating volume %s: %w", name, err)
	}
	if err := writeFileAtomic(filepath.Join(tmp, volumeMetaFile), meta, 0o600); err != nil {
		return nil, false, fmt.Errorf("creating volume %s: %w", name, err)
	}
	if err := renameNoReplace(tmp, filepath.Join(s.dir, name)); err != nil {
		if errors.Is(err, fs.ErrExist) || errors.Is(err, unix.ENOTEMPTY) {
			v, err := s.Get(name) // made by another strata meanwhile
			return v, false, err
		}
		return nil, false, fmt.Errorf("creating volume %s: %w", name, err)
	}
	tmp = ""
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync() // the rename, durable
		d.Close()
	}
	v, err = s.Get(name)
	return v, err == nil, err
}

// Names lists the names of the store's volumes, sorted; what is no volume name (the store's
// temp dirs) is skipped.
func (s *VolumeStore) Names() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing volumes: %w", err)
	}
	var names []string
	for _, e := range ents {
		if ValidateVolumeName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// Remove deletes volume name and its data. The caller holds Lock exclusively and has checked
// no container uses it. The dir is renamed away first, so the name is free at once and a
// removal cut short leaves a temp dir (swept by the next removal) rather than half a volume.
// A volume whose _data is no dir of its own (a symlink, a file, gone), which nothing mounts,
// is removed too, as docker's local driver removes one whose _data is a file: the removal
// never follows a symlink (a link is unlinked, not what it leads to). A _data that is a
// mount point is refused: the data is another filesystem's.
func (s *VolumeStore) Remove(name string) error {
	f, err := s.openVolumeDir(name)
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Stat_t
	err = unix.Fstatat(int(f.Fd()), volumeDataDir, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		data, err := beneath(int(f.Fd()), f.Name(), volumeDataDir)
		if err != nil {
			return fmt.Errorf("volume %s: %w", name, err)
		}
		data.Close()
	} else if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("volume %s: %w", name, &os.PathError{Op: "lstat", Path: filepath.Join(f.Name(), volumeDataDir), Err: err})
	}
	tmp, err := os.MkdirTemp(s.dir, ".rm-")
	if err != nil {
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	gone := filepath.Join(tmp, name)
	if err := os.Rename(filepath.Join(s.dir, name), gone); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	s.sweep()
	return nil
}

// sweep removes the temp dirs of creations and removals: the caller holds Lock exclusively,
// so no creation is at work (a run's creation holds it shared).
func (s *VolumeStore) sweep() {
	ents, _ := os.ReadDir(s.dir)
	for _, e := range ents {
		if n := e.Name(); len(n) > 4 && (n[:4] == ".rm-" || n[:5] == ".tmp-") {
			_ = removeAllRetry(filepath.Join(s.dir, n))
		}
	}
}

// Empty reports whether volume name holds nothing, under its data dir.
func (s *VolumeStore) Empty(name string) (bool, error) {
	f, err := s.openVolume(name)
	if err != nil {
		return false, err
	}
	defer f.Close()
	data, err := beneath(int(f.Fd()), f.Name(), volumeDataDir)
	if err != nil {
		return false, err
	}
	defer data.Close()
	names, err := data.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return len(names) == 0 && err == nil, err
}

// checkNamedVolume refuses to start container c whose mount m of volume name is not that
// volume's data dir in the store beside c's (a config.json edited to bind /etc under a
// volume's name), or whose volume is gone or no longer its own dirs.
func checkNamedVolume(c *Container, m mount.Mount, name string) error {
	vs := OpenVolumeStore(VolumesDirOf(filepath.Dir(filepath.Clean(c.Dir))))
	if err := ValidateVolumeName(name); err != nil {
		return fmt.Errorf("container %s: %w", shortID(c.ID), err)
	}
	if want := vs.DataDir(name); filepath.Clean(m.Source) != want {
		a, aerr := os.Stat(m.Source)
		b, berr := os.Stat(want)
		if aerr != nil || berr != nil || !os.SameFile(a, b) {
			return fmt.Errorf("container %s: its volume %s is not at %s", shortID(c.ID), name, want)
		}
	}
	if err := vs.Check(name); err != nil {
		return fmt.Errorf("container %s: %w", shortID(c.ID), err)
	}
	return nil
}
