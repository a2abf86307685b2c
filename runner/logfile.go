package runner

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/strata-run/strata/internal/lockfile"
	"github.com/strata-run/strata/internal/safefile"
)

// A json-file log bounded by max-size is rotated as docker's json-file driver rotates it
// (daemon/logger/loggerutils/logfile.go): once the next entry would take log.json past
// max-size, log.json becomes log.json.1, log.json.1 becomes log.json.2, and so on, the one
// that would be log.json.<max-file> is removed, and a new log.json takes the entry. With
// compress, the rotated files are gzipped (log.json.1.gz, …), as docker's, after the rename.
//
// Readers (`logs`) and the monitor are different processes: a rotation happens under an
// exclusive flock of logLockFile, and a reader opens log.json and the rotated files under a
// shared one, so that it never sees a rotation half done (a file shifted twice, or not yet).
// No file is ever missing at its name: the new log.json is made aside and renamed over the
// old one, which a hard link has made log.json.1 first.
const (
	logLockFile = "log.lock"
	// logNewSuffix is the new log.json while a rotation makes it; logTmpSuffix a rotated
	// file's gzip while it is written.
	logNewSuffix = ".new"
	logTmpSuffix = ".tmp"
	// logUnlinkSuffix is the copy of a log.json with other names, until it takes its place
	// (unlinkedLog).
	logUnlinkSuffix = ".unlinked.tmp"
)

// rotatedName is the name of the n-th rotated file of log at name (n from 1, the newest).
func rotatedName(name string, n int, gz bool) string {
	s := name + "." + strconv.Itoa(n)
	if gz {
		s += ".gz"
	}
	return s
}

// containerLog is a container's log.json open for the monitor to append entries to, rotated
// when its logRotation bounds it. Its Write takes whole entries (each ending in a newline).
type containerLog struct {
	name string
	rot  logRotation
	f    *os.File
	size int64
	// compressing, when not nil, is closed once the last rotated file is gzipped.
	compressing chan struct{}
	// retryAt: a rotation failed; none is tried again before (each try may wait on the
	// lock, and the container's output with it).
	retryAt time.Time
}

// openContainerLog opens (creating it) the log.json in dir for the monitor, rotated as lc
// says. The rotation's lock file is made now, before any rotation: a reader that finds none
// knows no rotation can be under way.
func openContainerLog(dir string, lc LogConfig) (*containerLog, error) {
	rot, err := lc.rotation()
	if err != nil {
		return nil, err
	}
	name := filepath.Join(dir, logFile)
	if rot.MaxSize > 0 {
		lf, err := lockfile.Open(filepath.Join(dir, logLockFile), 0o600)
		if err != nil {
			return nil, err
		}
		lf.Close()
	}
	if rot.Compress {
		// A compression a killed monitor left half done: log.json.1 is still there, whole.
		_ = os.Remove(rotatedName(name, 1, true) + logTmpSuffix)
	}
	if rot.MaxSize > 0 {
		finishRotation(name)
	}
	f, err := openLogForWriting(name)
	if err != nil {
		return nil, err
	}
	l := &containerLog{name: name, rot: rot, f: f}
	if rot.Compress && exists(rotatedName(name, 1, false)) {
		// Left plain by a monitor killed before its compression was done.
		l.compressLater()
	}
	if rot.MaxSize > 0 {
		// What a last run left counts toward the bound.
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		l.size = st.Size()
	}
	return l, nil
}

// Write appends entries, whole ones each ending in a newline, rotating log.json before an
// entry that would take it past max-size (an entry larger than max-size alone fills a file).
// A rotation that fails leaves the entries in log.json, past the bound, rather than lose them.
func (l *containerLog) Write(p []byte) (int, error) {
	if l.rot.MaxSize <= 0 {
		n, err := l.f.Write(p)
		l.size += int64(n)
		return n, err
	}
	written := 0
	for len(p) > 0 {
		n := l.fits(p)
		if n == 0 {
			if time.Now().After(l.retryAt) {
				if err := l.rotate(); err == nil {
					continue
				}
				l.retryAt = time.Now().Add(rotateRetry)
			}
			n = entryLen(p)
		}
		m, err := l.f.Write(p[:n])
		l.size += int64(m)
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// entryLen is the length of the first entry of p, its newline included.
func entryLen(p []byte) int {
	if i := bytes.IndexByte(p, '\n'); i >= 0 {
		return i + 1
	}
	return len(p)
}

// fits is how many bytes of p's first entries go into log.json within max-size: 0 when its
// first one must go to a new file. An empty file takes one entry of any size.
func (l *containerLog) fits(p []byte) int {
	n := 0
	for n < len(p) {
		e := entryLen(p[n:])
		if l.size+int64(n+e) > l.rot.MaxSize {
			if n == 0 && l.size == 0 {
				return e
			}
			break
		}
		n += e
	}
	return n
}

// rotateLockWait bounds how long a rotation waits for readers opening the log's files (each
// holds the lock for a few opens): past it, the entries go to log.json for now, and the
// rotation is tried again rotateRetry later.
const (
	rotateLockWait = 200 * time.Millisecond
	rotateRetry    = time.Second
)

// rotate makes log.json log.json.1 (shifting the rotated files, dropping the one past
// max-file) and opens a new, empty log.json.
func (l *containerLog) rotate() error {
	if l.compressing != nil {
		<-l.compressing
		l.compressing = nil
	}
	unlock, err := lockLog(filepath.Dir(l.name), true, rotateLockWait)
	if err != nil {
		return err
	}
	defer unlock()
	newName := l.name + logNewSuffix
	nf, err := createLogFile(newName, os.O_APPEND)
	if err != nil {
		return err
	}
	if l.rot.MaxFiles >= 2 {
		err = shiftRotated(l.name, l.rot.MaxFiles)
		if err == nil {
			err = os.Link(l.name, rotatedName(l.name, 1, false))
		}
	}
	if err == nil {
		err = os.Rename(newName, l.name)
	}
	if err != nil {
		nf.Close()
		_ = os.Remove(newName)
		return err
	}
	l.f.Close()
	l.f, l.size = nf, 0
	if l.rot.Compress {
		l.compressLater()
	}
	return nil
}

// compressLater gzips log.json.1 in the background; the next rotation and Close wait for it.
func (l *containerLog) compressLater() {
	done := make(chan struct{})
	l.compressing = done
	go func() {
		defer close(done)
		_ = compressRotated(l.name)
	}()
}

// finishRotation finishes a rotation a killed monitor cut short between its link of log.json
// to log.json.1 and the rename of the new log.json over it: the new log.json is put in place,
// as the rotation would have. Left as it was, log.json went on under both names, and the next
// rotation shifted one to log.json.2 and linked the other as log.json.1 again: one file
// twice among the rotated ones, which logs read twice. Best effort: a lock it cannot take
// leaves the file under two names, which openLogSet reads once.
func finishRotation(name string) {
	newName := name + logNewSuffix
	cur, err := os.Lstat(name)
	one, err1 := os.Lstat(rotatedName(name, 1, false))
	if err != nil || err1 != nil || !os.SameFile(cur, one) {
		_ = os.Remove(newName) // a new log.json not linked in: nothing was rotated
		return
	}
	unlock, err := lockLog(filepath.Dir(name), true, 5*time.Second)
	if err != nil {
		return
	}
	defer unlock()
	nf, err := createLogFile(newName, 0)
	if err != nil {
		return
	}
	nf.Close()
	if err := os.Rename(newName, name); err != nil {
		_ = os.Remove(newName)
	}
}

// shiftRotated renames log.json.N to log.json.N+1, from the oldest, removing those that
// would be log.json.<maxFiles> or past it, so that log.json.1 is free. Only the files there
// are are shifted (a max-file of a million costs no million renames), whatever gaps a crash
// left among their numbers.
func shiftRotated(name string, maxFiles int) error {
	nums, err := rotatedNumbers(name)
	if err != nil {
		return err
	}
	for i := len(nums) - 1; i >= 0; i-- {
		n := nums[i]
		for _, gz := range []bool{false, true} {
			var err error
			if n >= maxFiles-1 {
				err = os.Remove(rotatedName(name, n, gz))
			} else {
				err = os.Rename(rotatedName(name, n, gz), rotatedName(name, n+1, gz))
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// rotatedNumbers lists the numbers of the rotated files of the log at name (log.json.N, plain
// or gzipped), ascending. A crash between two renames of a shift can leave a gap among them
// (log.json.2 with no log.json.1): the files past it are still read, and removed in turn.
func rotatedNumbers(name string) ([]int, error) {
	ents, err := os.ReadDir(filepath.Dir(name))
	if err != nil {
		return nil, err
	}
	prefix := filepath.Base(name) + "."
	var nums []int
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		rest = strings.TrimSuffix(rest, ".gz")
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 || strconv.Itoa(n) != rest {
			continue // log.json.new, log.json.1.gz.tmp, a name strata never writes
		}
		if !slices.Contains(nums, n) {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	return nums, nil
}

// createLogFile makes the log file name anew, empty, for writing (with flag, os.O_APPEND):
// what was there, which only a rotation cut short leaves, is removed first, never truncated,
// for it may be a hard link to a file elsewhere (a host file linked in its place was emptied,
// then took log.json's name and the container's output).
func createLogFile(name string, flag int) (*os.File, error) {
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return safefile.Open(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|flag|safefile.NoFollow, 0o640)
}

func exists(name string) bool {
	_, err := os.Lstat(name)
	return err == nil
}

// compressRotated gzips log.json.1 into log.json.1.gz, as docker's json-file does with
// compress. The gzip's comment names the file it was made from (its device and inode), so
// that a `logs -f` that had that file open finds where it went. log.json.1 is replaced under
// the lock: a reader sees one or the other, whole.
func compressRotated(name string) (err error) {
	src := rotatedName(name, 1, false)
	in, err := safefile.Open(src, os.O_RDONLY|safefile.NoFollow, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	dst := rotatedName(name, 1, true)
	tmp := dst + logTmpSuffix
	out, err := createLogFile(tmp, 0)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			_ = os.Remove(tmp)
		}
	}()
	zw := gzip.NewWriter(out)
	zw.Comment = fileIdentity(st)
	zw.ModTime = st.ModTime()
	if _, err := io.Copy(zw, in); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	// On disk before its rename and log.json.1's removal, as the store's atomic writes are:
	// a crash after them lost the rotated file, its new name pointing at no data.
	if err := logSync(out); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	unlock, err := lockLog(filepath.Dir(name), true, time.Minute)
	if err != nil {
		return err
	}
	defer unlock()
	// Still the file it was made from (no rotation runs while this does).
	if cur, err := os.Lstat(src); err != nil || !os.SameFile(cur, st) {
		return errors.New("rotated log replaced while compressed")
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	// The rename, durable before log.json.1 goes: a crash leaves one or the other, or both
	// (log.json.1 is read then, and compressed again by the next monitor).
	if err := syncLogDir(filepath.Dir(name)); err != nil {
		return err
	}
	return os.Remove(src)
}

// logSync fsyncs f; a variable, for the test of compressRotated's order.
var logSync = (*os.File).Sync

// syncLogDir fsyncs the dir at name, which holds a new name.
func syncLogDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	return errors.Join(logSync(d), d.Close())
}

// fileIdentity names the file st describes by its device and inode: unique among the files
// that exist, and a follower holds its file open.
func fileIdentity(st fs.FileInfo) string {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return "strata-log " + strconv.FormatUint(s.Dev, 10) + ":" + strconv.FormatUint(s.Ino, 10)
	}
	return ""
}

// lockLog takes the rotation's lock in dir, exclusive (a rotation) or shared (a reader),
// waiting up to wait. With no lock file, the log is never rotated: nothing to lock.
func lockLog(dir string, exclusive bool, wait time.Duration) (unlock func(), err error) {
	deadline := time.Now().Add(wait)
	for {
		l, ok, err := lockfile.TryLockExisting(filepath.Join(dir, logLockFile), exclusive)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return func() {}, nil
		case err != nil:
			return nil, err
		case ok:
			return func() { _ = l.Unlock() }, nil
		case time.Now().After(deadline):
			return nil, errors.New("log rotation lock is held")
		}
		time.Sleep(time.Millisecond)
	}
}

// Close closes log.json, once the last rotated file is compressed.
func (l *containerLog) Close() error {
	if l.compressing != nil {
		<-l.compressing
		l.compressing = nil
	}
	return l.f.Close()
}

// logSource is one file of a container's log as `logs` reads it.
type logSource struct {
	name string
	f    *os.File
	gz   bool
}

func closeSources(srcs []logSource) {
	for _, s := range srcs {
		s.f.Close()
	}
}

// openLogSet opens a container's log as it is now, under the rotation's lock: its rotated
// files, oldest first, then log.json, last. fs.ErrNotExist when there is no log.json.
func openLogSet(dir string) (_ []logSource, err error) {
	unlock, err := lockLog(dir, false, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer unlock()
	name := filepath.Join(dir, logFile)
	cur, err := openLog(name)
	if err != nil {
		return nil, err
	}
	var srcs []logSource
	defer func() {
		if err != nil {
			closeSources(srcs)
			cur.Close()
		}
	}()
	curSt, err := cur.Stat()
	if err != nil {
		return nil, err
	}
	nums, err := rotatedNumbers(name)
	if err != nil {
		return nil, err
	}
	for _, i := range nums {
		s := logSource{name: rotatedName(name, i, false)}
		s.f, err = openLog(s.name)
		if errors.Is(err, fs.ErrNotExist) {
			s = logSource{name: rotatedName(name, i, true), gz: true}
			s.f, err = openLog(s.name)
		}
		if errors.Is(err, fs.ErrNotExist) {
			continue // taken by a compression since the listing (the lock is shared)
		}
		if err != nil {
			return nil, err
		}
		if st, serr := s.f.Stat(); serr == nil && os.SameFile(st, curSt) {
			// A rotation cut short between its link and its rename (a monitor killed):
			// the same file, not read twice.
			s.f.Close()
			continue
		}
		srcs = append(srcs, s)
	}
	// Oldest first.
	for i, j := 0, len(srcs)-1; i < j; i, j = i+1, j-1 {
		srcs[i], srcs[j] = srcs[j], srcs[i]
	}
	return append(srcs, logSource{name: name, f: cur}), nil
}

// sourcesAfter returns the sources of the log in dir that came after old, a log.json a
// follower read to its end and that was rotated since: the files rotated after it, then the
// new log.json. Those rotated off the end (a follower far behind) are gone, as docker's.
func sourcesAfter(dir string, old *os.File) ([]logSource, error) {
	srcs, err := openLogSet(dir)
	if err != nil {
		return nil, err
	}
	st, err := old.Stat()
	if err != nil {
		closeSources(srcs)
		return nil, err
	}
	id := fileIdentity(st)
	for i := len(srcs) - 2; i >= 0; i-- {
		if srcs[i].isFile(st, id) {
			closeSources(srcs[:i+1])
			return srcs[i+1:], nil
		}
	}
	return srcs, nil
}

// isFile says whether s is the file st describes, or its gzip (by the identity in its comment).
func (s logSource) isFile(st fs.FileInfo, id string) bool {
	if !s.gz {
		sst, err := s.f.Stat()
		return err == nil && os.SameFile(sst, st)
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(io.NewSectionReader(s.f, 0, 1<<16), 4096))
	if err != nil {
		return false
	}
	return id != "" && zr.Comment == id
}

// reader returns what s holds, read from its start (a gzipped file decompressed).
func (s logSource) reader() (io.Reader, error) {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if !s.gz {
		return s.f, nil
	}
	zr, err := gzip.NewReader(s.f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.name, err)
	}
	zr.Multistream(false)
	return zr, nil
}
