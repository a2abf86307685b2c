package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-run/strata/internal/lockfile"
)

// Container names are reserved in <store>/.names: one symlink per name whose target is the
// container's ID. symlink(2) fails with EEXIST when the name is taken, so creating a container
// and finding one by name cost one system call each instead of reading every container's
// files (docker keeps the same index in its daemon's memory). The index is a cache of the
// names in config.json: a link whose container is gone is stale and free to take, and a
// store made before the index gets one on the first create.
const namesDir = ".names"

// nameLink is where name's link lives.
func (s *Store) nameLink(name string) string { return filepath.Join(s.dir, namesDir, name) }

// ensureNameIndex makes .names, linking every existing container's name, if it is missing.
// The caller holds the store lock, so no other create reserves a name meanwhile; it is built
// aside and renamed in. A create preparing its container outside the lock has no config.json
// yet: its name is read from the mark it holds (creatingName), so that no other container
// takes it. The mark of a create that died is not read: its dir holds no name (removeAbandoned).
func (s *Store) ensureNameIndex() error {
	fi, err := os.Lstat(filepath.Join(s.dir, namesDir))
	if err == nil && fi.IsDir() {
		return nil
	}
	if err == nil {
		// A file or symlink in its place (a hand edit, a restored backup) would make every
		// create fail with "not a directory": it is rebuilt.
		if err := os.Remove(filepath.Join(s.dir, namesDir)); err != nil {
			return fmt.Errorf("indexing container names: %w", err)
		}
	}
	tmp, err := os.MkdirTemp(s.dir, namesDir+".tmp-")
	if err != nil {
		return fmt.Errorf("indexing container names: %w", err)
	}
	defer os.RemoveAll(tmp)
	// The creates under way first: one that finishes meanwhile removes its mark only once its
	// config.json is there, for List to read.
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("indexing container names: %w", err)
	}
	for _, e := range entries {
		if len(e.Name()) == 64 && isHexID(e.Name()) && e.IsDir() {
			if name, ok := creatingName(filepath.Join(s.dir, e.Name())); ok {
				_ = os.Symlink(e.Name(), filepath.Join(tmp, name))
			}
		}
	}
	all, err := s.List()
	if err != nil {
		return err
	}
	for _, c := range all {
		if validName(c.Config.Name) {
			_ = os.Symlink(c.ID, filepath.Join(tmp, c.Config.Name))
		}
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, namesDir)); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("indexing container names: %w", err)
	}
	return nil
}

// creatingName returns the name a create making container dir reserved, as its mark says,
// if a process holds that mark (see creating).
func creatingName(dir string) (string, bool) {
	if !markHeld(dir) {
		return "", false
	}
	b, err := readSmallFile(filepath.Join(dir, creatingFile), maxNameLen)
	if err != nil || !validName(string(b)) {
		return "", false
	}
	return string(b), true
}

// reserveName links name to id. A name held by a container that still exists is a
// *NameInUseError; a stale link is replaced. The caller holds the store lock.
func (s *Store) reserveName(name, id string) error {
	link := s.nameLink(name)
	for range 2 {
		err := os.Symlink(id, link)
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("reserving container name %q: %w", name, err)
		}
		if holder, ok := s.nameHolder(name, true); ok {
			return &NameInUseError{Name: name, ID: holder.ID}
		}
		if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("reserving container name %q: %w", name, err)
		}
	}
	return fmt.Errorf("reserving container name %q: %w", name, ErrNameInUse)
}

// nameHolder returns the container name's link points at, if it exists and still has that
// name (storeLocked as loadAs). A broken container (its config unreadable) is taken at the
// link's word: the link is all that tells its name, and `rm NAME` must find it.
func (s *Store) nameHolder(name string, storeLocked bool) (*Container, bool) {
	id, err := os.Readlink(s.nameLink(name))
	if err != nil || len(id) != 64 || !isHexID(id) {
		return nil, false
	}
	c, err := s.loadAs(id, storeLocked)
	if err != nil {
		return nil, false
	}
	if c.Broken != nil {
		c.Config.Name = name
		return c, true
	}
	if c.Config.Name != name {
		return nil, false
	}
	return c, true
}

// namesOf returns the names the index links to each of ids, sorted.
func (s *Store) namesOf(ids map[string]bool) map[string][]string {
	entries, err := os.ReadDir(filepath.Join(s.dir, namesDir))
	if err != nil {
		return nil
	}
	out := map[string][]string{}
	for _, e := range entries {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		if id, err := os.Readlink(s.nameLink(e.Name())); err == nil && ids[id] {
			out[id] = append(out[id], e.Name()) // ReadDir sorts by name
		}
	}
	return out
}

// nameBroken gives each broken container the first name the index links to it, as its
// config cannot.
func (s *Store) nameBroken(broken []*Container) {
	if len(broken) == 0 {
		return
	}
	ids := map[string]bool{}
	for _, c := range broken {
		ids[c.ID] = true
	}
	names := s.namesOf(ids)
	for _, c := range broken {
		if n := names[c.ID]; len(n) > 0 {
			c.Config.Name = n[0]
		}
	}
}

// releaseNamesOf removes every name link to id: a broken container's config does not say
// which it holds.
func (s *Store) releaseNamesOf(id string) {
	for _, name := range s.namesOf(map[string]bool{id: true})[id] {
		s.releaseName(name, id)
	}
}

// releaseName removes name's link if it still points at id (a new container may have taken
// the name once id's dir was gone).
func (s *Store) releaseName(name, id string) {
	if target, err := os.Readlink(s.nameLink(name)); err == nil && target == id {
		_ = os.Remove(s.nameLink(name))
	}
}

// Rename gives container c the name name (docker rename; a leading "/" is accepted). The new
// name is reserved before config.json says it and the old one released after, so no other
// container can take either meanwhile; a running container keeps running.
func (s *Store) Rename(c *Container, name string) error {
	name = strings.TrimPrefix(name, "/")
	if !validNewName(name) {
		return invalidNameError(name)
	}
	lock, err := lockfile.Acquire(filepath.Join(s.dir, ".lock"), 0o600, true)
	if err != nil {
		return fmt.Errorf("locking container store: %w", err)
	}
	defer lock.Unlock()
	if err := s.ensureNameIndex(); err != nil {
		return err
	}
	unlock, err := c.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	var cfg Config
	if err := readJSON(filepath.Join(c.Dir, configFile), &cfg); err != nil {
		if errors.Is(err, os.ErrNotExist) && isGone(c.Dir) {
			// Removed while this waited for its lock (an rm -f holds it as it removes the
			// dir): "no such container", not the path of the config.json it cannot read.
			return &removedError{id: c.ID, err: err}
		}
		return fmt.Errorf("reading container %s config: %w", shortID(c.ID), err)
	}
	old := cfg.Name
	if old == name {
		return fmt.Errorf("renaming container %s: it is named %q already", shortID(c.ID), name)
	}
	// Its log tag may name it: rendered again, as docker renders it at each start.
	renamed := &Container{ID: c.ID, Dir: c.Dir, Config: cfg}
	renamed.Config.Name = name
	if err := renderTag(renamed); err != nil {
		return fmt.Errorf("renaming container %s: %w", shortID(c.ID), err)
	}
	if err := s.reserveName(name, c.ID); err != nil {
		return err
	}
	c.Config = renamed.Config
	if err := c.SaveConfig(); err != nil {
		s.releaseName(name, c.ID)
		c.Config = cfg
		return err
	}
	s.releaseName(old, c.ID)
	return nil
}
