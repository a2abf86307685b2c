// Package events is strata's event log: with no daemon to stream events from, each command
// appends what it did to <root>/events.log, one JSON line per event, and `strata events`
// reads the file back, as podman's file events backend does.
//
// An event is docker's events.Message (its JSON is what `docker events --format '{{json .}}'`
// prints). Writing one is a single write(2) of a line with O_APPEND, never fsynced: lines
// from concurrent writers do not interleave on a local filesystem, and a lost event is
// no failure of the command that made it. The log is capped: past MaxSize it is renamed to
// events.log.1 (replacing the older one), so the two files together hold the recent past.
// Where that rename cannot be done (a directory with files in events.log.1, a root the user
// may write the log in but not rename it in), the log is cut to nothing instead: the older
// events are lost, but the log never grows without bound. Writers append under a shared flock
// of the log and cut it under an exclusive one, so an event appended while another writer cuts
// the log lands after the cut, never in what it drops.
package events

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
)

// Types of the actor of an event, as docker names them.
const (
	Container = "container"
	Image     = "image"
	Volume    = "volume"
)

// File is the log's name under the root; Rotated is its previous generation's.
const (
	File    = "events.log"
	Rotated = "events.log.1"
)

// MaxSize is the size past which the next writer rotates the log.
const MaxSize = 10 << 20

// MaxLine bounds an event line a reader accepts: a longer one is skipped, not buffered.
const MaxLine = 64 << 10

// Actor is what an event is about: a container or image ID, and attributes such as its name.
type Actor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

// Message is one event, in docker's shape (moby api/types/events.Message), status, id and
// from included as docker still sends them.
type Message struct {
	Status   string `json:"status,omitempty"`
	ID       string `json:"id,omitempty"`
	From     string `json:"from,omitempty"`
	Type     string `json:"Type"`
	Action   string `json:"Action"`
	Actor    Actor  `json:"Actor"`
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// New is an event of typ and action about id, stamped now, with attrs (not copied).
func New(typ, action, id string, attrs map[string]string) Message {
	now := time.Now()
	m := Message{Type: typ, Action: action, Actor: Actor{ID: id, Attributes: attrs},
		Scope: "local", Time: now.Unix(), TimeNano: now.UnixNano()}
	if m.Actor.Attributes == nil {
		m.Actor.Attributes = map[string]string{}
	}
	// docker's deprecated fields, which older scripts read: set for container and image events.
	m.Status, m.ID = action, id
	if typ == Container {
		m.From = attrs["image"]
	}
	return m
}

// When is the event's time.
func (m Message) When() time.Time { return time.Unix(0, m.TimeNano) }

// Fits says whether m, as Append writes it, is a line a reader takes (MaxLine).
func Fits(m Message) bool {
	line, err := json.Marshal(m)
	return err == nil && len(line) < MaxLine
}

// Append writes m to root's log, best effort: any failure is ignored, the event lost. The
// file is opened without following a symlink and without blocking (a FIFO put there opens
// or writes at once, or fails), and written only when it is a regular file.
func Append(root string, m Message) {
	_ = AppendErr(root, m)
}

// AppendErr is Append, returning why the event was lost (for tests).
func AppendErr(root string, m Message) error {
	if root == "" {
		return errors.New("no root")
	}
	line, err := json.Marshal(m)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	path := filepath.Join(root, File)
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_APPEND|syscall.O_CREAT|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC|syscall.O_NOCTTY, 0o600)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return errors.New(path + ": not a regular file")
	}
	// The append holds the log's lock shared, a cut holds it exclusive: a line is written
	// before the cut looks at the log's size, or after its truncate, never in between
	// (where the truncate dropped it). Without the lock (none to be had, or one held past
	// lockWait) the append goes on as before it was added.
	defer syscall.Flock(fd, syscall.LOCK_UN)
	_ = lock(fd, syscall.LOCK_SH)
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Size >= MaxSize {
		// Rotated or cut before this line goes in: a line appended to a full log is one
		// the next writer's cut would drop.
		rotate(fd, path, &st)
		if err := syscall.Fstat(fd, &st); err != nil {
			return err
		}
	}
	// A log that does not end a line (a writer killed mid-line, a hand edit) would glue this
	// event to its garbage: it starts a line of its own. (The file is opened O_RDWR for
	// this one-byte read; a FIFO, which that opens at once, was refused above.)
	var last [1]byte
	if st.Size > 0 {
		if n, _ := syscall.Pread(fd, last[:], st.Size-1); n == 1 && last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	// One write: O_APPEND places the whole line at the end at once.
	_, err = syscall.Write(fd, line)
	return err
}

// rotate renames the log at path, open as fd, to its .1, when path still names the file st
// describes: another writer that rotated first has put a new, small log there, which stays.
//
// The rotation holds an exclusive flock on the log, waiting for it no longer than lockWait (a
// writer that finds it held that long leaves the rotation to its holder, and a process that
// holds it forever blocks no command, nor, once the log is twice MaxSize, its rotation), and
// checks again under it that the log is still at path and still past MaxSize:
// two writers that both saw it full rotate it once, and the second never renames the new,
// small log over the first's .1 nor cuts the new log.
//
// A .1 that is a symlink, a FIFO or a device is replaced by the rename itself (rename(2)
// replaces a name, never follows it), so nothing is written through it. A directory is what
// rename cannot replace: an empty one is removed (rmdir, which never recurses nor follows a
// symlink) and the rename done again. One that holds files may hold a user's data, so it is
// left as it is; then, and whenever the rename fails otherwise (a root where the log may be
// written but not renamed, a .1 that is a mount point), the log is cut to nothing in place:
// its events are lost, but it stays bounded, where it grew without end. A reader following
// it sees the cut and reads it again from its start (Tail).
func rotate(fd int, path string, st *syscall.Stat_t) {
	// The shared lock the append holds goes first: two writers that both hold it and wait
	// for the exclusive one would wait for each other. The exclusive lock stays held for
	// the append's write, which its caller releases.
	_ = syscall.Flock(fd, syscall.LOCK_UN)
	switch err := lock(fd, syscall.LOCK_EX); err {
	case nil:
	case syscall.EWOULDBLOCK:
		if st.Size < 2*MaxSize {
			return
		}
		// A rotation takes a moment: a holder that kept the lock while the log doubled is
		// none, and would keep it unbounded.
	default:
		// No locks here (ENOLCK: an NFS mount without its lock manager): the rotation goes
		// on without one rather than never, which left the log unbounded.
	}
	var now syscall.Stat_t
	if syscall.Lstat(path, &now) != nil || now.Dev != st.Dev || now.Ino != st.Ino {
		return
	}
	if syscall.Fstat(fd, &now) != nil || now.Size < MaxSize {
		return
	}
	rotated := filepath.Join(filepath.Dir(path), Rotated)
	err := syscall.Rename(path, rotated)
	if err == syscall.EISDIR || err == syscall.ENOTEMPTY || err == syscall.EEXIST {
		if syscall.Rmdir(rotated) == nil {
			err = syscall.Rename(path, rotated)
		}
	}
	if err == nil || err == syscall.ENOENT {
		return // rotated, or the log went (a user's rm): the next writer makes a new one
	}
	_ = syscall.Ftruncate(fd, 0)
}

// lockWait bounds how long a writer waits for the log's flock. Its holders hold it for a
// write, or for a rotation (a rename, or a truncate of MaxSize bytes): a lock held longer is
// held by a process that stopped or never lets it go, and the writer goes on without it.
const lockWait = 500 * time.Millisecond

// lockStuck: a lock of this process waited lockWait for the log's flock in vain, shared
// ([0]) or exclusive ([1]). The next ones of that kind take it only when it is free at once, so
// a lock held forever costs a command one wait, not one per event; the first of that kind
// taken at once clears it.
var lockStuck [2]atomic.Bool

// lock takes the flock how (LOCK_SH or LOCK_EX) on the log open as fd, waiting for it no
// longer than lockWait: nil, EWOULDBLOCK when it stayed held by another, or flock's error
// (ENOLCK on an NFS mount without its lock manager).
func lock(fd, how int) error {
	stuck := &lockStuck[0]
	if how == syscall.LOCK_EX {
		stuck = &lockStuck[1]
	}
	err := syscall.Flock(fd, how|syscall.LOCK_NB)
	if err != syscall.EWOULDBLOCK {
		if err == nil {
			stuck.Store(false)
		}
		return err
	}
	if stuck.Load() {
		return err
	}
	// flock has no timeout: its non-blocking form is tried again, from 50 µs apart to 5 ms.
	deadline := time.Now().Add(lockWait)
	for d := 50 * time.Microsecond; time.Now().Before(deadline); d = min(2*d, 5*time.Millisecond) {
		time.Sleep(d)
		if err = syscall.Flock(fd, how|syscall.LOCK_NB); err != syscall.EWOULDBLOCK {
			return err
		}
	}
	stuck.Store(true)
	return err
}
