// Package lockfile takes flock(2) locks on files beside what they guard, for strata processes
// that share a store with no daemon to serialize them.
//
// It replaces gofrs/flock where a lock file sits in a directory a user or another tool can
// write to: flock.New opens its file O_RDONLY|O_CREATE, following symlinks, so a FIFO put at
// the lock's path blocked every strata command in open(2) for good (no context reaches an
// open), and a symlink made it create or lock a file elsewhere. Here the file is opened
// O_NOFOLLOW|O_NONBLOCK and must be a regular file, or locking fails at once with one line
// saying what to remove.
//
// A lock dies with its process (flock(2) locks belong to the open file), so a lock file left
// by a killed strata never blocks anyone: only its holder's being alive does.
package lockfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/safefile"
)

// Retry is how often Lock polls a lock another process holds: flock(2) cannot be interrupted
// by a context, so waiting retries LOCK_NB.
const Retry = 20 * time.Millisecond

// ErrNotLockFile is returned when something other than a regular file sits at a lock's path.
var ErrNotLockFile = safefile.ErrNotRegular

// Lock is a held lock; Unlock releases it.
type Lock struct {
	f *os.File
}

// Open opens (creating with perm) the lock file at path without locking it. It refuses a
// symlink, a FIFO, a device or a directory at path with ErrNotLockFile. O_RDONLY is enough
// for flock(2) and lets a store on a read-only filesystem still be read under its locks.
func Open(path string, perm fs.FileMode) (*os.File, error) {
	return open(path, os.O_CREATE, perm)
}

func open(path string, create int, perm fs.FileMode) (*os.File, error) {
	f, err := safefile.Open(path, os.O_RDONLY|create|safefile.NoFollow, perm)
	if errors.Is(err, ErrNotLockFile) {
		return nil, fmt.Errorf("%w; remove it", err)
	}
	return f, err
}

// TryLock tries once to lock path, exclusive or shared; ok is false when another process
// holds a conflicting lock.
func TryLock(path string, perm fs.FileMode, exclusive bool) (l *Lock, ok bool, err error) {
	f, err := Open(path, perm)
	if err != nil {
		return nil, false, err
	}
	return tryLock(f, exclusive)
}

// TryLockExisting is TryLock for a lock file that must exist already (fs.ErrNotExist
// otherwise): for a process checking whether another holds a lock in a directory that may be
// going away, where creating the file could put it back in a directory being removed.
func TryLockExisting(path string, exclusive bool) (l *Lock, ok bool, err error) {
	f, err := open(path, 0, 0)
	if err != nil {
		return nil, false, err
	}
	return tryLock(f, exclusive)
}

func tryLock(f *os.File, exclusive bool) (l *Lock, ok bool, err error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, false, nil
	}
	if err != nil {
		f.Close()
		return nil, false, err
	}
	return &Lock{f: f}, true, nil
}

// Acquire locks path, blocking in flock(2) until it gets the lock: for short critical
// sections where a waiter must follow its holder at once and no context needs to end the wait.
func Acquire(path string, perm fs.FileMode, exclusive bool) (*Lock, error) {
	f, err := Open(path, perm)
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Lock{f: f}, nil
}

// Wait locks path, polling every Retry until it gets the lock or ctx is done.
func Wait(ctx context.Context, path string, perm fs.FileMode, exclusive bool) (*Lock, error) {
	for {
		l, ok, err := TryLock(path, perm, exclusive)
		if err != nil || ok {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(Retry):
		}
	}
}

// File is the open lock file, for callers that check it is still the one at its path.
func (l *Lock) File() *os.File { return l.f }

// Unlock releases the lock. Closing the file releases it: the lock belongs to this open file
// alone.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
