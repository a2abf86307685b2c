package runner

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/strata-run/strata/internal/lockfile"
	"github.com/strata-run/strata/internal/safefile"
	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner/cgroups"
)

// Files in a container dir.
const (
	configFile = "config.json"
	stateFile  = "state.json"
	logFile    = "log.json"
	lockFile   = "lock"
	// creatingFile is locked by a create from the making of the dir until config.json and
	// state.json are written, then removed: see creating. It holds the name reserved.
	creatingFile = "creating"
)

// Store is the set of containers under one directory, <root>/containers. There is no daemon:
// every strata process reads and writes the files, with flocks where two could race.
type Store struct {
	dir string
	// layers is the snapshotter's dir of layer dirs (SetLayerDir); "" leaves a root's
	// lowerdirs unchecked.
	layers string
}

// SetLayerDir names the dir holding the layer dirs (one per DiffID, named by its hex) that the
// store's containers stack in their root overlays: every lowerdir of a container that is
// started, or whose files cp or diff read, must be one of them, or the container's own empty
// or mountpoints dir, as the snapshotter prepares them (checkLowers). Unset, lowerdirs are
// not checked.
func (s *Store) SetLayerDir(dir string) { s.layers = dir }

// ErrBroken means a container's files cannot be read: its config.json is missing or
// corrupt, or its dir is no directory (a crash, a full disk, a hand edit). Such a container
// is listed (as dead) and can be removed, and nothing else.
var ErrBroken = errors.New("container is broken")

// Errors of readSmallFile: what is in a container file's place is not a file strata wrote.
var (
	errNotRegular = safefile.ErrNotRegular
	errTooBig     = safefile.ErrTooBig
)

// Container is one container as read from its dir.
type Container struct {
	ID     string
	Dir    string
	Config Config
	State  State
	// Broken, when not nil, says why the container's config cannot be read (it wraps
	// ErrBroken). Config is then zero but for the names the index gives it, and State is
	// read from state.json where that can be, so a broken container that still runs can
	// be stopped and force-removed.
	Broken error
	// notDir: Dir is no directory (a symlink, a file): nothing under it may be opened.
	notDir bool
	// synced waits for the fsync of a new container's config.json, which CreateWith leaves
	// running while the container starts (see Durable); nil when nothing is pending.
	synced func() error
	// monitored: this process created the container to run it and its first state names
	// this process as the monitor (CreateToRun).
	monitored bool
	// layers is its store's layer dir (Store.SetLayerDir), where its lowerdirs must be.
	layers string
}

// Durable waits until the config.json of a container just created is on disk. CreateWith
// writes it atomically at once but leaves its fsync (milliseconds on a real disk) running in
// the background; Start and RunContainer wait for it before they report the container
// started, so a container strata has named to the user survives a crash.
func (c *Container) Durable() error {
	if c.synced == nil {
		return nil
	}
	return c.synced()
}

// Name returns the container's name.
func (c *Container) Name() string { return c.Config.Name }

// ShortID is the container's ID in the 12-character form docker prints.
func (c *Container) ShortID() string { return shortID(c.ID) }

// OpenStore opens (creating it if needed) the container store at dir.
func OpenStore(dir string) (*Store, error) {
	// Only root enters: a container's config.json holds its -e values, its upper dir the
	// setuid binaries and device nodes of its image (moby's CVE-2021-41091). A store made
	// looser by an older strata is tightened.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		// A store no container was ever made in, on a disk that cannot take the dir now
		// (full, read-only, not ours to write): it holds no container, and rmi and prune,
		// which only read it, free the disk. What would write a container fails then.
		if _, serr := os.Lstat(dir); errors.Is(serr, fs.ErrNotExist) && cannotWrite(err) {
			return &Store{dir: dir}, nil
		}
		return nil, fmt.Errorf("opening container store: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		// A read-only filesystem may still be read (ps, system df) if it is tight already.
		if fi, serr := os.Stat(dir); !errors.Is(err, syscall.EROFS) || serr != nil || fi.Mode().Perm() != 0o700 {
			return nil, fmt.Errorf("opening container store: %w", err)
		}
	}
	return &Store{dir: dir}, nil
}

// cannotWrite reports whether err says the file system takes no new file here: full, out of
// inodes or quota, read-only, or not ours to write.
func cannotWrite(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EACCES, syscall.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Create makes a container dir with a new 64-hex ID and records cfg with status created.
// An empty cfg.Name gets a docker-style generated one; a name in use is a *NameInUseError
// (errors.Is ErrNameInUse). cfg.Spec.ID and Dir are filled in; the caller adds root mounts
// (prepared in the new dir) and calls SaveConfig.
func (s *Store) Create(cfg Config) (*Container, error) {
	return s.CreateWith(cfg, nil)
}

// RootFunc makes the root filesystem mounts of a new container in its dir.
type RootFunc func(dir string) ([]mount.Mount, error)

// CreateWith is Create for a container whose root mounts (Spec.Root) root makes in the new
// container's dir before config.json is first written, saving a rewrite on every run.
func (s *Store) CreateWith(cfg Config, root RootFunc) (*Container, error) {
	id, err := NewID()
	if err != nil {
		return nil, err
	}
	return s.CreateWithID(id, cfg, root)
}

// NewID returns a new random container ID: 64 hex digits, as docker's.
func NewID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("creating container id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// CreateWithID is CreateWith for a container whose ID (from NewID) the caller chose, for
// a cgroup made ahead of it (PrepareCgroup).
func (s *Store) CreateWithID(id string, cfg Config, root RootFunc) (*Container, error) {
	return s.create(id, cfg, root, false)
}

// CreateToRun is CreateWithID for a container this process runs at once, in the foreground
// (RunContainer) or detached (Start): its first state names this process as its monitor,
// which RunContainer would otherwise lock, reload and rewrite the state to record, and which
// the monitor Start spawns replaces. Another strata's start refuses it meanwhile
// (State.starting), and if this process dies first the container is an orphan, removed by
// the next sweep when it is --rm.
func (s *Store) CreateToRun(id string, cfg Config, root RootFunc) (*Container, error) {
	return s.create(id, cfg, root, true)
}

func (s *Store) create(id string, cfg Config, root RootFunc, toRun bool) (_ *Container, err error) {
	if len(id) != 64 || !isHexID(id) {
		return nil, fmt.Errorf("creating container: %q is not a container id", id)
	}
	// A bad flag value fails here, before anything is made (docker leaves no container).
	if len(cfg.Spec.Args) > 0 {
		if err := cfg.Spec.withDefaults().validateInput(); err != nil {
			return nil, err
		}
	}
	// Docker takes a name with its leading "/" (how its API spells names) as the name.
	if name, ok := strings.CutPrefix(cfg.Name, "/"); ok {
		if !validNewName(name) {
			return nil, invalidNameError(cfg.Name)
		}
		cfg.Name = name
	}
	if cfg.Name != "" && !validNewName(cfg.Name) {
		return nil, invalidNameError(cfg.Name)
	}
	dir := filepath.Join(s.dir, id)
	cfg.Spec.ID, cfg.Spec.Dir = id, dir
	c := &Container{ID: id, Dir: dir, Config: cfg, State: State{Status: StatusCreated}, layers: s.layers}
	if toRun {
		start, err := processStart(os.Getpid())
		if err != nil {
			return nil, fmt.Errorf("reading own start time: %w", err)
		}
		c.State.MonitorPid, c.State.MonitorStart, c.monitored = os.Getpid(), start, true
	}
	mark, err := s.reserve(c)
	if err != nil {
		return nil, err
	}
	if c.Config.Created.IsZero() {
		c.Config.Created = time.Now().UTC()
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.unreserve(c))
		}
		_ = mark.Unlock()
	}()
	if toRun {
		// Before the state naming this process is seen: the dir's mark hides it until then.
		if err := holdMonitorProof(c); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				dropMonitorProof(c.ID)
			}
		}()
	}
	// Its name is known now: a log tag may name it.
	if err := renderTag(c); err != nil {
		return nil, err
	}
	// The store is free again: what follows may take long (a VOLUME of many files is
	// copied). The lock on creatingFile, held until the state is written, keeps the
	// container from listings, lookups and sweeps meanwhile (see creating).
	testStop(stopPreparing)
	if root != nil {
		if c.Config.Spec.Root, err = root(dir); err != nil {
			return nil, err
		}
	}
	// Written now, synced while the container starts (Durable).
	if err := writeJSON(filepath.Join(c.Dir, configFile), c.Config, false); err != nil {
		return nil, fmt.Errorf("saving container %s config: %w", c.ID[:12], err)
	}
	if c.durable() {
		c.synced = syncInBackground(filepath.Join(c.Dir, configFile))
	}
	if c.Config.AutoRemove {
		if err := os.WriteFile(filepath.Join(c.Dir, waitersFile), nil, 0o600); err != nil {
			return nil, fmt.Errorf("creating container %s: %w", c.ID[:12], err)
		}
	}
	if err := c.saveState(); err != nil {
		return nil, err
	}
	// Whole now. A mark left behind (this remove failing) is harmless: unlocked, it tells
	// nothing, and config.json and state.json are there.
	_ = os.Remove(filepath.Join(c.Dir, creatingFile))
	Event(c, "create", nil)
	return c, nil
}

// reserve gives c its name (a generated one when it has none) and makes its dir, under the
// store lock, and returns the lock on the dir's creatingFile, taken before the store lock is
// let go: while it is held, the dir is a container being created (see creating).
func (s *Store) reserve(c *Container) (mark *lockfile.Lock, err error) {
	lock, err := lockfile.Acquire(filepath.Join(s.dir, ".lock"), 0o600, true)
	if err != nil {
		return nil, fmt.Errorf("locking container store: %w", err)
	}
	defer lock.Unlock()

	if err := s.ensureNameIndex(); err != nil {
		return nil, err
	}
	id := c.ID
	if c.Config.Name != "" {
		if err := s.reserveName(c.Config.Name, id); err != nil {
			// Held by a --rm container whose run was killed (`run --rm --name x` again
			// after a kill): it is removed and the name taken.
			if !s.removedOrphanNamed(c.Config.Name, err) {
				return nil, err
			}
			if err := s.reserveName(c.Config.Name, id); err != nil {
				return nil, err
			}
		}
	} else {
		for i := 0; ; i++ {
			c.Config.Name = randomName()
			if i > 10 {
				c.Config.Name += strconv.Itoa(i)
			}
			err := s.reserveName(c.Config.Name, id)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrNameInUse) || i > 100 {
				return nil, err
			}
		}
	}
	defer func() {
		if err != nil {
			s.releaseName(c.Config.Name, id)
		}
	}()
	// The dir appears with its mark, held, in one step: made aside (creatingPrefix), then
	// renamed into place. Made in place, a create killed between the dir's mkdir and its
	// mark left an empty dir, listed as a Dead container that held the name for ever (no
	// sweep takes a dir without a mark for an abandoned create): run --rm --name k killed
	// there could not be run again. What a kill leaves aside the sweeps remove
	// (sweepCreating), under the store lock, which every create holds here.
	tmp := filepath.Join(s.dir, creatingPrefix+id)
	if err := os.Mkdir(tmp, 0o710); err != nil {
		return nil, fmt.Errorf("creating container %s: %w", id[:12], err)
	}
	// The mark holds the name: until config.json is written only it and the name's link say
	// which name the container takes, and an index rebuilt meanwhile reads it (ensureNameIndex).
	// The dir is new and the store root's alone, so nothing can be in the mark's place.
	if err := os.WriteFile(filepath.Join(tmp, creatingFile), []byte(c.Config.Name), 0o600); err != nil {
		err = fmt.Errorf("creating container %s: %w", id[:12], err)
		return nil, errors.Join(err, os.RemoveAll(tmp))
	}
	mark, err = lockfile.Acquire(filepath.Join(tmp, creatingFile), 0o600, true)
	if err != nil {
		err = fmt.Errorf("creating container %s: %w", id[:12], err)
		return nil, errors.Join(err, os.RemoveAll(tmp))
	}
	testStop(stopReserving)
	if err := renameNoReplace(tmp, c.Dir); err != nil {
		_ = mark.Unlock()
		err = fmt.Errorf("creating container %s: %w", id[:12], err)
		return nil, errors.Join(err, os.RemoveAll(tmp))
	}
	return mark, nil
}

// stopReserving (testStop) is in reserve, the container's dir made, not yet in place.
const stopReserving = "reserving"

// creatingPrefix names the dir reserve makes a container's dir in before it renames it into
// place with its mark: ".creating-" and the container's ID. No listing reads it (List reads
// only IDs).
const creatingPrefix = ".creating-"

// sweepCreating removes the dirs reserve left aside (creatingPrefix) among names, entries of
// the store dir: a create killed before it renamed its dir into place. The caller holds the
// store lock, under which every reserve renames its dir before it lets go, so none of them is
// a create at work.
func (s *Store) sweepCreating(names []string) error {
	var errs []error
	for _, name := range names {
		if err := removeAllRetry(filepath.Join(s.dir, name)); err != nil {
			errs = append(errs, fmt.Errorf("removing what a killed create left: %w", err))
		}
	}
	return errors.Join(errs...)
}

// unreserve undoes reserve for a create that failed, still holding creatingFile's lock: its
// name is released and its dir removed, that file last, so that the dir never reads as a
// broken container while it is emptied (one would be listed, and an rm could race this).
func (s *Store) unreserve(c *Container) error {
	s.releaseName(c.Config.Name, c.ID)
	entries, err := os.ReadDir(c.Dir)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, e := range entries {
		if e.Name() != creatingFile {
			if err := removeAllRetry(filepath.Join(c.Dir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) == 0 {
		errs = append(errs, removeAllRetry(c.Dir))
	}
	return errors.Join(errs...)
}

// removedOrphanNamed reports whether err, reserveName's, names a container holding name that
// is an orphan (see orphaned) or abandoned (see removeAbandoned), and it was removed. The
// caller holds the store lock.
func (s *Store) removedOrphanNamed(name string, err error) bool {
	var inUse *NameInUseError
	if !errors.As(err, &inUse) {
		return false
	}
	c, ok := s.nameHolder(name, true)
	if !ok || c.ID != inUse.ID {
		return false
	}
	var removed bool
	var rerr error
	if orphaned(c) {
		removed, rerr = s.removeOrphan(c)
	} else {
		removed, rerr = s.removeAbandoned(c.ID)
	}
	return removed && rerr == nil
}

// removeAbandoned removes container id if a create killed while it prepared the container
// left it: its dir holds the creatingFile mark, which no process holds any more, and lacks
// config.json or state.json. No command can complete such a dir (its config, or the state
// that says what it is, was never written) and its create never named it to anyone: it is
// garbage, not a container, and its name is free (`create --name x` again after a kill, as
// for an orphan). Its dir, its cgroup (made by its run) and its name links go.
//
// The caller holds the store lock, so no reserve is between the dir's mkdir and the lock on
// its mark (see creating). The mark is locked here, exclusive, before the dir is judged, and
// held while it is removed: a creator alive holds it, and listings meanwhile take the dir for
// one being created and skip it. One whose lock another strata holds (an rm) is left to it.
func (s *Store) removeAbandoned(id string) (removed bool, err error) {
	dir := filepath.Join(s.dir, id)
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return false, nil
	}
	mark, ok, err := lockfile.TryLockExisting(filepath.Join(dir, creatingFile), true)
	if err != nil || !ok {
		return false, nil
	}
	defer func() { _ = mark.Unlock() }()
	if finished(dir) {
		// Whole: the mark is one whose removal failed (see create).
		return false, nil
	}
	l, ok, err := lockfile.TryLock(filepath.Join(dir, lockFile), 0o600, true)
	if err != nil || !ok {
		return false, nil
	}
	defer func() { _ = l.Unlock() }()
	c, err := s.loadAs(id, true)
	if err != nil || c.notDir {
		return false, nil
	}
	if err := removeDir(c); err != nil {
		return false, err
	}
	return true, nil
}

// durable reports whether c's files must survive a crash. A --rm container's do not: it is
// removed when it exits, and a crash leaves a stale state that reads as exited anyway. Its
// fsyncs would only slow down every `run --rm`.
func (c *Container) durable() bool { return !c.Config.AutoRemove }

// SaveConfig writes c.Config to config.json atomically.
func (c *Container) SaveConfig() error {
	if err := writeJSON(filepath.Join(c.Dir, configFile), c.Config, c.durable()); err != nil {
		return fmt.Errorf("saving container %s config: %w", c.ID[:12], err)
	}
	return nil
}

// saveState writes c.State to state.json atomically, without an fsync: the state describes
// processes, which a crash ends anyway, and a state that says "running" with a dead monitor
// reads as exited (State.Running). The fsyncs cost milliseconds at every start and stop.
// A kept container's state.json has room kept for it on a full disk (stateReserve).
func (c *Container) saveState() error {
	path := filepath.Join(c.Dir, stateFile)
	err := writeJSON(path, c.State, false)
	if err != nil && c.durable() && noSpace(err) && dropStateReserve(c.Dir) {
		err = writeJSON(path, c.State, false)
	}
	if err != nil {
		return fmt.Errorf("saving container %s state: %w", c.ID[:12], err)
	}
	if c.durable() {
		keepStateReserve(c.Dir)
	}
	return nil
}

// stateLostPrefix starts the Error of a state Reload could not read (State.Error).
const stateLostPrefix = "state lost: "

// Reload rereads state.json (another strata process may have changed it).
func (c *Container) Reload() error { return c.reload(true) }

// reload is Reload; a state.json missing beside config.json is an error unless missingLost,
// which reads it as a lost state, as an emptied or garbled one. Only loadAs wants the error:
// a create writes config.json before state.json.
func (c *Container) reload(missingLost bool) error {
	if c.notDir {
		return c.Broken
	}
	for deadline := time.Now().Add(exitRecordWait); ; time.Sleep(pollInterval / 4) {
		var st State
		if err := readState(filepath.Join(c.Dir, stateFile), &st); err != nil {
			if errors.Is(err, os.ErrNotExist) && beingRemoved(c.Dir) {
				return &removedError{id: c.ID, err: err}
			}
			if errors.Is(err, os.ErrNotExist) && !missingLost || !errors.Is(err, os.ErrNotExist) && !isUnusable(err) {
				return fmt.Errorf("reading container %s state: %w", c.ID[:12], err)
			}
			// state.json is written without fsync (saveState): after a host crash it may be
			// empty. Its processes are gone then; the container reads as exited. One deleted
			// (by hand, an rm killed half-way: config.json goes first) reads so too: stop and
			// kill said "reading container … state: … no such file or directory" where an
			// emptied one told that a live strata holds the container (heldWhileDown).
			st = State{Status: StatusExited, ExitCode: ExitUnknown, Error: stateLostPrefix + err.Error()}
		}
		if afterStateRead != nil {
			afterStateRead()
		}
		c.State = st.effectiveFor(c.ID)
		if st.Status == StatusRunning && c.State.Status != StatusRunning {
			// Judged stale from what was read: a monitor that reaped the container,
			// recorded its exit and ended between that read and the look at its processes
			// left a newer record, which is what holds (wait printed 255 for a container
			// that exited 29, on a busy host).
			var again State
			if err := readJSON(filepath.Join(c.Dir, stateFile), &again); err == nil && again != st {
				continue
			}
			c.recordLost(st)
			return nil
		}
		if c.State.Status != StatusRunning || c.State.Running() || cgroups.Held(c.CgroupKey()) {
			return nil
		}
		// Its own monitor, or the strata that runs it in the foreground, records the exit
		// when it gets to it: on a busy host that can take longer than exitRecordWait, and a
		// 255 read meanwhile was a wrong exit code for wait, and a start that ran the
		// container a second time beside a monitor that then recorded the first run's end.
		if isMonitorOf(c.State.MonitorPid, c.ID, c.Dir) {
			return nil
		}
		// Exiting (its PID 1 gone, its monitor alive), and no process holds the container's
		// cgroup any more: a monitor lets go of it as it deletes it, just before it records
		// the exit, which is read again for a moment. A state whose monitor records nothing
		// (a hand edit naming a live process, pids other processes took after a reboot) read
		// as running for ever: wait and start waited for that unrelated process to end.
		if time.Now().After(deadline) {
			c.State = c.State.stale("the recorded monitor has not recorded the container's exit")
			c.recordLost(st)
			return nil
		}
	}
}

// removedError is Reload's error for a container whose dir is gone: removed since it was
// looked up (rm -f, its own --rm). It is ErrNotFound, as docker's "No such container", and
// the fs.ErrNotExist it came from, which callers test for: start and wait racing an rm said
// "reading container … state: open /…/state.json: no such file or directory".
type removedError struct {
	id  string
	err error
}

func (e *removedError) Error() string {
	return fmt.Sprintf("container %s: %v (removed)", shortID(e.id), ErrNotFound)
}

func (e *removedError) Unwrap() []error { return []error{ErrNotFound, e.err} }

// StillThere returns c's "no such container (removed)" error (ErrNotFound) once an rm has
// begun to remove c since it was looked up, nil before that. An rm renames the container's
// dir away, or removes its config.json first where it empties it in place (removeDir), before
// it removes any file of it: a reader of c's files (commit, export, diff) that finds c still
// there once it has read them read them whole, and one that does not read a tree being
// emptied, which it must not pass off as the container's.
func (c *Container) StillThere() error {
	if c.notDir {
		return nil
	}
	if _, err := os.Lstat(filepath.Join(c.Dir, configFile)); errors.Is(err, os.ErrNotExist) {
		return &removedError{id: c.ID, err: err}
	}
	return nil
}

// isGone reports whether dir no longer exists.
func isGone(dir string) bool {
	_, err := os.Lstat(dir)
	return errors.Is(err, os.ErrNotExist)
}

// removing reports whether container dir, whose config.json is gone, is being removed: an rm
// holds its lock while it empties the dir, config.json first (removeDir). An exec, start or
// inspect that looked it up meanwhile said "container is broken: …: config.json: no such
// file or directory", and ps listed it as Dead, for a container an rm was removing. One whose
// lock nobody holds (an rm killed half-way) is still broken, for rm to remove. The lock file
// is never made here, in a dir being emptied.
func removing(dir string) bool {
	l, ok, err := lockfile.TryLockExisting(filepath.Join(dir, lockFile), false)
	if err != nil {
		return false
	}
	if ok {
		_ = l.Unlock()
	}
	return !ok
}

// beingRemoved reports whether container dir is removed or being removed: gone, or its
// config.json gone, which removeDir deletes first so that a state.json missing from a dir
// still there reads as its removal, not a lost state.
func beingRemoved(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, configFile))
	return errors.Is(err, os.ErrNotExist)
}

// recordLost gives c.State, judged stale from read (a running state whose monitor is gone or
// not the container's), a FinishedAt of when its run was last known alive (lostAt), and
// writes that time, and only it, into state.json if it can at once: under the container's
// lock (an existing one: a lock file made again in a dir an rm is emptying would keep it),
// with state.json
// still read, the container not being removed, and no process in or holding its cgroup (a run
// in another pid namespace sharing the store, whose pids tell nothing here). A lost monitor
// recorded no end: inspect showed FinishedAt 0001-01-01 and ps "Exited (255)" with no time,
// for ever. The record keeps the monitor's status, so the verdict stays each reader's own
// (effectiveFor), and the time holds for every later look; a caller that holds the lock
// (start, rm) replaces or removes the state anyway.
func (c *Container) recordLost(read State) {
	if !c.State.FinishedAt.IsZero() && !c.State.FinishedAt.Before(c.State.StartedAt) {
		return // this run's, recorded by a look before
	}
	c.State.FinishedAt = lostAt(c)
	if beingRemoved(c.Dir) {
		return
	}
	l, ok, err := lockfile.TryLockExisting(filepath.Join(c.Dir, lockFile), true)
	if err != nil || !ok {
		return
	}
	defer l.Unlock()
	var now State
	if err := readJSON(filepath.Join(c.Dir, stateFile), &now); err != nil || now != read || beingRemoved(c.Dir) || cgroups.InUse(c.CgroupKey()) {
		return
	}
	read.FinishedAt = c.State.FinishedAt
	_ = writeJSON(filepath.Join(c.Dir, stateFile), read, false)
}

// lostAt is the FinishedAt of c's lost run (recordLost), the same for every reader whether
// or not it can write it: when the run was last known alive, the latest of its start, the
// last write of its state (its monitor's running record) and of its log, which nothing
// touches while nothing runs; for a run that started before this machine booted, the boot,
// by which it had ended, and when docker's daemon, started with the machine, finds such a
// container dead and records its FinishedAt. It was the time of the look: where that could
// not be written (the lock held, no lock file, a read-only store) ps said "Exited (255) Less
// than a second ago" at every look, inspect's FinishedAt moved with the clock, and readers
// disagreed.
func lostAt(c *Container) time.Time {
	t := c.State.StartedAt
	if boot, err := bootTime(); err == nil && !t.IsZero() && t.Before(boot) {
		return boot.UTC()
	}
	for _, name := range []string{stateFile, logFile} {
		if fi, err := os.Lstat(filepath.Join(c.Dir, name)); err == nil && fi.Mode().IsRegular() && fi.ModTime().After(t) {
			t = fi.ModTime()
		}
	}
	if t.IsZero() {
		return t // nothing tells: no time, as ps and inspect show an unknown one
	}
	return t.UTC()
}

// isMonitorOf reports whether pid is strata's monitor of container id, whose dir is dir: a
// detached monitor, exec'd with its marker as argv[0] and arguments that name the container
// (isDetachedMonitor), or a strata process that holds the container's lock file open as the
// one that monitors it does from its record to its exit's (holdMonitorProof: a foreground
// run, a run -d until its monitor takes over). Any strata binary was believed before: a state
// naming a live `strata events -f`, or another container's monitor, made wait, start and stop
// wait for that process to end. A process a hand-edited state names, or one that took a
// monitor's pid, is neither.
func isMonitorOf(pid int, id, dir string) bool {
	if pid <= 0 || id == "" {
		return false
	}
	return isDetachedMonitor(pid, id) || holdsMonitorProof(pid, id, dir)
}

// afterStateRead, when set (tests), runs in Reload between the read of state.json and the look
// at the processes it names.
var afterStateRead func()

// exitRecordWait is how long Reload waits for the monitor of an exiting container that no
// longer holds its cgroup to record the exit (see Reload).
const exitRecordWait = 200 * time.Millisecond

// Lock takes the container's exclusive lock (an flock on <dir>/lock), held by whoever starts
// or removes it, so two strata processes cannot do both at once. unlock releases it.
func (c *Container) Lock() (unlock func() error, err error) {
	l, err := c.lock()
	if err != nil {
		return nil, err
	}
	return l.Unlock, nil
}

// lock is Lock, returning the held lock: Start hands its open file to the monitor it starts
// the container with (the lock belongs to the open file, whichever process holds it).
func (c *Container) lock() (*lockfile.Lock, error) {
	if c.notDir {
		return nil, fmt.Errorf("locking container %s: %w", shortID(c.ID), c.Broken)
	}
	// Never through a symlink (a lock -> /etc/nologin would create that file), nor blocking
	// in open(2) on a FIFO.
	l, err := lockfile.Acquire(filepath.Join(c.Dir, lockFile), 0o600, true)
	if errors.Is(err, os.ErrNotExist) && isGone(c.Dir) {
		return nil, &removedError{id: c.ID, err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("locking container %s: %w", c.ID[:12], err)
	}
	return l, nil
}

// load reads one container dir. A dir whose files cannot be read is a container all the
// same, with Broken set: a crash or a hand edit must not hide it from ps and rm. Only a dir
// being created (config.json or state.json not written yet: creating) is ErrNotFound.
func (s *Store) load(id string) (*Container, error) { return s.loadAs(id, false) }

// loadAs is load; storeLocked says the caller holds the store lock to reserve a name: a
// container being created is then read as its files are (without config.json, broken and
// holding the names its links give it), never skipped, so that its name stays taken.
func (s *Store) loadAs(id string, storeLocked bool) (*Container, error) {
	dir := filepath.Join(s.dir, id)
	c := &Container{ID: id, Dir: dir, layers: s.layers}
	fi, err := os.Lstat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %s: %w", shortID(id), ErrNotFound)
		}
		return nil, fmt.Errorf("reading container %s: %w", shortID(id), err)
	}
	if !fi.IsDir() {
		c.notDir = true
		c.Broken = fmt.Errorf("%w: %s: its dir is a %s", ErrBroken, shortID(id), fileKind(fi.Mode()))
		c.State = State{Status: StatusDead}
		c.Config.Created = fi.ModTime().UTC()
		return c, nil
	}
	if err := readJSON(filepath.Join(dir, configFile), &c.Config); err != nil {
		if errors.Is(err, os.ErrNotExist) && !storeLocked && (s.creating(dir) || removing(dir)) {
			return nil, fmt.Errorf("container %s: %w", shortID(id), ErrNotFound)
		}
		c.Config = Config{Created: fi.ModTime().UTC()}
		c.Broken = fmt.Errorf("%w: %s: %s: %w", ErrBroken, shortID(id), configFile, causeOf(err))
	} else if c.Config.Spec.ID != "" && c.Config.Spec.ID != id {
		// Copied from another container's dir: run, it would take that container's cgroup
		// (named by Spec.ID) and mount its writable layer.
		other := shortID(c.Config.Spec.ID)
		c.Config = Config{Created: fi.ModTime().UTC()}
		c.Broken = fmt.Errorf("%w: %s: %s is container %s's", ErrBroken, shortID(id), configFile, other)
	} else if !validName(c.Config.Name) {
		// Not a name strata gives (Create and Rename check them): terminal escapes and
		// newlines in it went raw into ps's table, and "../x" is no file name in .names.
		// None at all (null, {}) is no config strata wrote: listed nameless and created, the
		// container could not be found by the name its link gives it.
		why := "the name is not a container name"
		if c.Config.Name == "" {
			why = "it names no container"
		}
		c.Config = Config{Created: fi.ModTime().UTC()}
		c.Broken = fmt.Errorf("%w: %s: %s: %s", ErrBroken, shortID(id), configFile, why)
	} else {
		// The container's ID and dir are where it is, whatever config.json says: its etc
		// files are written in Spec.Dir at every start, and the init mounts its root at
		// Spec.Dir/rootfs. A "dir" edited to /etc had start replace the host's /etc/hosts,
		// hostname and resolv.conf (and a store moved elsewhere wrote into its old place).
		c.Config.Spec.ID, c.Config.Spec.Dir = id, dir
	}
	if err := c.reload(false); err != nil {
		missing := errors.Is(err, os.ErrNotExist)
		switch {
		case missing && c.Broken == nil && !storeLocked && s.creating(dir):
			// Created meanwhile: config.json is written before state.json.
			return nil, fmt.Errorf("container %s: %w", shortID(id), ErrNotFound)
		case missing || c.Broken != nil:
			// An rm killed half-way, or neither file readable: nothing shows that it runs.
			c.State = State{Status: StatusExited, ExitCode: ExitUnknown, Error: stateLostPrefix + err.Error()}
		default:
			return nil, err
		}
	}
	if c.Broken != nil && c.State.Status != StatusRunning {
		c.State.Status = StatusDead
	}
	return c, nil
}

// causeOf is err without the path that readJSON's errors name (the container is named
// already).
func causeOf(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	if u := errors.Unwrap(err); u != nil && isUnusable(err) {
		return u
	}
	return err
}

// creating reports whether container dir, lacking config.json or state.json, may be one a
// create is making: its creator holds the lock on its creatingFile from before it lets go of
// the store lock (Store.reserve) until both are written, and only the store lock covers the
// moment between the dir's mkdir and that lock (the mark made, not yet locked, too). So a
// mark no one holds is looked at again under the store lock. A creator that died let go of
// both: its dir is then listed as a broken container, which rm removes, and holds its name
// only until the next create of that name removes it (removeAbandoned). (A rename holds the
// store lock too, briefly: a broken container then hides from one listing, which is
// harmless; showing a half-made one as dead would invite an rm.)
func (s *Store) creating(dir string) bool {
	if markHeld(dir) {
		return true
	}
	lock, ok, err := lockfile.TryLock(filepath.Join(s.dir, ".lock"), 0o600, false)
	if err != nil || !ok {
		return true
	}
	defer func() { _ = lock.Unlock() }()
	// No reserve is under way now. Finished since the caller looked: the mark goes once
	// both files are there.
	return markHeld(dir) || finished(dir)
}

// markHeld reports whether a process holds the lock on dir's creatingFile. A mark that is
// missing, or is not the file a create makes (a FIFO, a symlink in its place), is held by none.
func markHeld(dir string) bool {
	l, ok, err := lockfile.TryLockExisting(filepath.Join(dir, creatingFile), false)
	if err != nil {
		return false
	}
	if ok {
		_ = l.Unlock()
		return false
	}
	return true
}

// finished reports whether container dir now has both config.json and state.json.
func finished(dir string) bool {
	for _, name := range []string{configFile, stateFile} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// fileKind names what a file mode is, for messages.
func fileKind(m os.FileMode) string { return safefile.Kind(m) }

// Get finds a container by full ID, name (with or without docker's leading "/"), or unique
// ID prefix, in that order, as docker resolves them.
func (s *Store) Get(ref string) (*Container, error) {
	ref = strings.TrimPrefix(ref, "/")
	if ref == "" {
		return nil, fmt.Errorf("empty container name or id: %w", ErrNotFound)
	}
	if isHexID(ref) && len(ref) == 64 {
		if c, err := s.load(ref); err == nil {
			return c, nil
		}
	}
	if c, ok := s.nameHolder(ref, false); ok {
		return c, nil
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if c.Config.Name == ref {
			return c, nil
		}
	}
	var match []*Container
	if isHexID(ref) {
		for _, c := range all {
			if strings.HasPrefix(c.ID, ref) {
				match = append(match, c)
			}
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("%s: %w", ref, ErrNotFound)
	case 1:
		return match[0], nil
	default:
		return nil, fmt.Errorf("%s matches %d containers: %w", ref, len(match), ErrAmbiguous)
	}
}

// List returns every container, oldest first, broken ones (Container.Broken) included. A
// dir being created is skipped.
func (s *Store) List() ([]*Container, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // never made (OpenStore): no container
	}
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var out []*Container
	var broken []*Container
	for _, e := range entries {
		if !isHexID(e.Name()) || len(e.Name()) != 64 {
			continue
		}
		c, err := s.load(e.Name())
		if err != nil {
			continue
		}
		if c.Broken != nil {
			broken = append(broken, c)
		}
		out = append(out, c)
	}
	s.nameBroken(broken)
	slices.SortFunc(out, func(a, b *Container) int { return a.Config.Created.Compare(b.Config.Created) })
	return out, nil
}

// isHexID reports whether s is lower-case hex, as container IDs are.
func isHexID(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return s != ""
}

// shortID is the 12-character form docker prints.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// isUnusable reports whether err is readJSON finding something it cannot decode, or no
// file strata wrote (a symlink, a FIFO, a directory, a huge file), rather than failing to read.
func isUnusable(err error) bool {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var decode *decodeError
	return errors.As(err, &syntax) || errors.As(err, &typ) || errors.As(err, &decode) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, errNotRegular) || errors.Is(err, errTooBig) ||
		errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EISDIR)
}

// syncInBackground fsyncs the file at name and its directory (which holds its new name) in a
// goroutine; the function returned waits for that and returns its error.
func syncInBackground(name string) func() error {
	done := make(chan error, 1)
	go func() { done <- errors.Join(syncFile(name), syncFile(filepath.Dir(name))) }()
	return sync.OnceValue(func() error {
		if err := <-done; err != nil {
			return fmt.Errorf("saving %s: %w", name, err)
		}
		return nil
	})
}

// syncFile fsyncs the file or directory at name.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
