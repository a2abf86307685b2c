package events

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
)

func readAll(t *testing.T, path string) []Message {
	t.Helper()
	f, err := Open(path)
	if err != nil || f == nil {
		t.Fatalf("Open(%s) = %v, %v", path, f, err)
	}
	defer f.Close()
	var got []Message
	if err := NewTail(f).Poll(func(m Message) bool { got = append(got, m); return true }); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestAppendAndRead(t *testing.T) {
	root := t.TempDir()
	for _, a := range []string{"create", "start", "die"} {
		if err := AppendErr(root, New(Container, a, "abc", map[string]string{"name": "x", "image": "alpine"})); err != nil {
			t.Fatal(err)
		}
	}
	got := readAll(t, filepath.Join(root, File))
	if len(got) != 3 || got[0].Action != "create" || got[2].Action != "die" || got[1].From != "alpine" || got[1].Status != "start" {
		t.Fatalf("read back %+v", got)
	}
	if d := time.Since(got[0].When()); d < 0 || d > time.Minute {
		t.Errorf("When() = %v, %v ago", got[0].When(), d)
	}
	if fi, err := os.Stat(filepath.Join(root, File)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode = %v, %v; want 0600", fi, err)
	}
}

// TestTailSkips: garbage, a line past MaxLine, events without a type or time, NULs: skipped;
// a last line without its newline waits for the rest of it.
func TestTailSkips(t *testing.T) {
	path := filepath.Join(t.TempDir(), File)
	good := `{"Type":"image","Action":"pull","Actor":{"ID":"a"},"timeNano":5}` + "\n"
	data := good + "garbage\n" + strings.Repeat("y", 3*MaxLine) + "\n" + `{"Type":"image","Action":"pull"}` + "\n\x00\xff\n\n" + good + `{"Type":"image","Action":"pu`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tail := NewTail(f)
	var n int
	count := func(Message) bool { n++; return true }
	if err := tail.Poll(count); err != nil || n != 2 {
		t.Fatalf("Poll = %v, %d events; want 2", err, n)
	}
	// The rest of the torn line arrives.
	w, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	w.WriteString(`ll","Actor":{"ID":"b"},"timeNano":6}` + "\n")
	w.Close()
	if err := tail.Poll(count); err != nil || n != 3 {
		t.Fatalf("Poll after the rest = %v, %d events; want 3", err, n)
	}
	if len(tail.pending) > MaxLine {
		t.Errorf("pending holds %d bytes", len(tail.pending))
	}
}

// TestAppendAfterTornLine: an event written after a line without its newline is on a line of
// its own.
func TestAppendAfterTornLine(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, File), []byte(`{"Type":"cont`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := AppendErr(root, New(Image, "tag", "x", nil)); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, filepath.Join(root, File)); len(got) != 1 || got[0].Action != "tag" {
		t.Errorf("after a torn line, read %+v", got)
	}
}

// TestHostileLog: a symlink, a FIFO (with and without a reader), a directory: Append writes
// nothing through them and never blocks; Open refuses them.
func TestHostileLog(t *testing.T) {
	for _, kind := range []string{"symlink", "fifo", "dir"} {
		t.Run(kind, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, File)
			target := filepath.Join(t.TempDir(), "target")
			os.WriteFile(target, nil, 0o600)
			switch kind {
			case "symlink":
				os.Symlink(target, path)
			case "fifo":
				if err := syscall.Mkfifo(path, 0o600); err != nil {
					t.Fatal(err)
				}
			case "dir":
				os.Mkdir(path, 0o700)
			}
			done := make(chan error, 1)
			go func() { done <- AppendErr(root, New(Image, "pull", "x", nil)) }()
			select {
			case err := <-done:
				if err == nil {
					t.Errorf("Append through a %s succeeded", kind)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Append blocked on a %s", kind)
			}
			if b, _ := os.ReadFile(target); len(b) != 0 {
				t.Errorf("Append wrote through the symlink: %q", b)
			}
			if f, err := Open(path); err == nil || f != nil {
				t.Errorf("Open(%s) = %v, %v; want an error", kind, f, err)
			}
		})
	}
	if f, err := Open(filepath.Join(t.TempDir(), "missing")); f != nil || err != nil {
		t.Errorf("Open(missing) = %v, %v; want nil, nil", f, err)
	}
}

// TestRotate: past MaxSize the next writer renames the log to .1 (its event the last of it)
// and the writer after starts a new log.
func TestRotate(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, File)
	writeFull(t, path)
	AppendErr(root, New(Image, "pull", "a", nil))
	AppendErr(root, New(Image, "pull", "b", nil))
	old := readAll(t, filepath.Join(root, Rotated))
	cur := readAll(t, path)
	if len(old) != 1 || old[0].Actor.ID != "a" || len(cur) != 1 || cur[0].Actor.ID != "b" {
		t.Errorf("after rotation: .1 has %+v, the log %+v", old, cur)
	}
}

// BenchmarkAppend is the cost an event adds to a command (run --rm writes four).
func BenchmarkAppend(b *testing.B) {
	root := b.TempDir()
	m := New(Container, "start", strings.Repeat("a", 64), map[string]string{"image": "alpine", "name": "x"})
	for b.Loop() {
		Append(root, m)
	}
}

// TestTailHugeLog: a log far past the size at which writers rotate it (a sparse file of 1 GiB
// put in its place) is read from its last MaxBacklog bytes, from the first line that starts
// there: Poll read all of it, seconds for 1 GiB of zeros and as long as the file is for a
// bigger one. The events of that window are read, a line that starts right at its start too.
func TestTailHugeLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), File)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	last := []byte(`{"Type":"image","Action":"pull","Actor":{"ID":"last"},"timeNano":7}` + "\n")
	first := []byte(`{"Type":"image","Action":"pull","Actor":{"ID":"first"},"timeNano":6}` + "\n")
	size := int64(1 << 30)
	start := size - MaxBacklog
	if _, err := f.WriteAt(append([]byte("\n"), first...), start-1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(append([]byte("\n"), last...), size-int64(len(last))-1); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tail := NewTail(r)
	if off, err := r.Seek(0, io.SeekCurrent); err != nil || off < start-1 {
		t.Fatalf("a tail of a %d-byte log starts at byte %d (%v), want at most %d bytes before its end", size, off, err, MaxBacklog)
	}
	if tail.Skipped() != start-1 {
		t.Errorf("Skipped() = %d, want %d", tail.Skipped(), start-1)
	}
	var got []string
	if err := tail.Poll(func(m Message) bool { got = append(got, m.Actor.ID); return true }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "first last" {
		t.Errorf("events read = %v, want first and last", got)
	}
}

// TestTailTruncated: a log cut to nothing under a follower (`: > events.log`) is read again
// from its start, as tail -F does: the events written after the cut were lost until the file
// grew past the old offset, and a line torn by the cut is not glued to the next.
func TestTailTruncated(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, File)
	for _, a := range []string{"create", "start", "die", "destroy"} {
		if err := AppendErr(root, New(Container, a, "abcdefabcdef", map[string]string{"name": "x", "image": "alpine"})); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, append(mustRead(t, path), `{"Type":"container","Action":"to`...), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tail := NewTail(f)
	var got []string
	emit := func(m Message) bool { got = append(got, m.Action); return true }
	if err := tail.Poll(emit); err != nil || len(got) != 4 {
		t.Fatalf("first Poll: %q, %v", got, err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	if err := AppendErr(root, New(Container, "create", "b", nil)); err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := tail.Poll(emit); err != nil || len(got) != 1 || got[0] != "create" {
		t.Fatalf("Poll after the cut = %q, %v; want the one event written since", got, err)
	}
	// Nothing new: nothing read again.
	got = nil
	if err := tail.Poll(emit); err != nil || len(got) != 0 {
		t.Fatalf("Poll with nothing new = %q, %v", got, err)
	}
}

// writeFull writes a log of MaxSize bytes, in lines of 1 KiB that are no events.
func writeFull(t *testing.T, path string) {
	t.Helper()
	line := append(bytes.Repeat([]byte("#"), 1023), '\n')
	if err := os.WriteFile(path, bytes.Repeat(line, MaxSize/len(line)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRotateOverHostile: a rotated log that is a symlink, a FIFO or an empty directory is
// replaced by the rotation (never written through, never waited on). A directory that holds
// files, and a .1 the rename cannot replace (a mount point), are left as they are, and the log
// is cut instead: the rename failed, and every writer after appended to a log past MaxSize
// that grew without bound.
func TestRotateOverHostile(t *testing.T) {
	for _, kind := range []string{"symlink", "fifo", "empty dir", "dir", "mount point"} {
		t.Run(kind, func(t *testing.T) {
			if kind == "mount point" {
				testutil.Requires(t, testutil.Root)
			}
			root := t.TempDir()
			path := filepath.Join(root, File)
			writeFull(t, path)
			target := filepath.Join(t.TempDir(), "target")
			if err := os.WriteFile(target, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			rotated := filepath.Join(root, Rotated)
			var err error
			switch kind {
			case "symlink":
				err = os.Symlink(target, rotated)
			case "fifo":
				err = syscall.Mkfifo(rotated, 0o600)
			case "empty dir":
				err = os.Mkdir(rotated, 0o700)
			case "dir":
				if err = os.Mkdir(rotated, 0o700); err == nil {
					err = os.WriteFile(filepath.Join(rotated, "keep"), []byte("a user's file"), 0o600)
				}
			case "mount point":
				if err = os.WriteFile(rotated, []byte("old"), 0o600); err == nil {
					err = syscall.Mount(target, rotated, "", syscall.MS_BIND, "")
				}
				if err == nil {
					t.Cleanup(func() {
						if err := syscall.Unmount(rotated, syscall.MNT_DETACH); err != nil {
							t.Errorf("unmounting %s: %v", rotated, err)
						}
					})
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- AppendErr(root, New(Image, "pull", "a", nil)) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Append with a rotated log that is a %s: %v", kind, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Append blocked on a rotated log that is a %s", kind)
			}
			if b, _ := os.ReadFile(target); len(b) != 0 {
				t.Errorf("the rotation wrote through the %s: %q", kind, b)
			}
			switch kind {
			case "symlink", "fifo", "empty dir":
				fi, err := os.Lstat(rotated)
				if err != nil {
					t.Fatal(err)
				}
				if !fi.Mode().IsRegular() || fi.Size() < MaxSize {
					t.Errorf("after the rotation, %s is a %v of %d bytes, want the old log", Rotated, fi.Mode(), fi.Size())
				}
				if old := readAll(t, rotated); len(old) != 1 || old[0].Actor.ID != "a" {
					t.Errorf("the rotated log ends with %+v, want the event", old)
				}
				if _, err := os.Lstat(path); err == nil {
					t.Errorf("after the rotation, %s is still there", File)
				}
			case "dir", "mount point":
				if kind == "dir" {
					if b, err := os.ReadFile(filepath.Join(rotated, "keep")); err != nil || string(b) != "a user's file" {
						t.Errorf("the file in the directory %s: %q, %v", Rotated, b, err)
					}
				} else if b, err := os.ReadFile(rotated); err != nil || len(b) != 0 {
					t.Errorf("the file mounted on %s holds %q, %v; want it untouched", Rotated, b, err)
				}
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() >= MaxSize {
					t.Errorf("%s is %d bytes after a rotation that could not rename it, want it cut below %d", File, fi.Size(), MaxSize)
				}
				if cur := readAll(t, path); len(cur) != 1 || cur[0].Actor.ID != "a" {
					t.Errorf("the log after a cut holds %+v, want the event", cur)
				}
			}
		})
	}
}

// TestRotateLocked: a log whose lock another process holds (a rotation under way, or one that
// never ends) is appended to after lockWait at most and not rotated; the first writer after
// the lock is released rotates it. A lock held while the log grew to twice MaxSize is no
// rotation under way: the log is rotated under it, else it grew without bound.
func TestRotateLocked(t *testing.T) {
	t.Cleanup(func() { lockStuck[0].Store(false); lockStuck[1].Store(false) })
	root := t.TempDir()
	path := filepath.Join(root, File)
	writeFull(t, path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- AppendErr(root, New(Image, "pull", "a", nil)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Append waited for the lock of a rotation")
	}
	if _, err := os.Lstat(filepath.Join(root, Rotated)); err == nil {
		t.Errorf("the log was rotated while another process held its lock")
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := AppendErr(root, New(Image, "pull", "b", nil)); err != nil {
		t.Fatal(err)
	}
	old := readAll(t, filepath.Join(root, Rotated))
	if len(old) != 2 || old[0].Actor.ID != "a" || old[1].Actor.ID != "b" {
		t.Errorf("the rotated log ends with %+v, want a and b", old)
	}

	writeFull(t, path)
	if err := os.Truncate(path, 2*MaxSize); err != nil {
		t.Fatal(err)
	}
	held, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := syscall.Flock(int(held.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if err := AppendErr(root, New(Image, "pull", "c", nil)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(root, Rotated)); err != nil || fi.Size() < 2*MaxSize {
		t.Errorf("a log of twice MaxSize under a held lock was not rotated: %s is %v, %v", Rotated, fi, err)
	}
}

// TestAppendReadOnlyRoot: on a read-only root the event is lost, with an error, at once.
func TestAppendReadOnlyRoot(t *testing.T) {
	root := testutil.SmallDisk(t, "size=16m")
	writeFull(t, filepath.Join(root, File))
	if err := syscall.Mount("", root, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	if err := AppendErr(root, New(Image, "pull", "a", nil)); !errors.Is(err, syscall.EROFS) {
		t.Errorf("Append on a read-only root = %v, want EROFS", err)
	}
	Append(root, New(Image, "pull", "a", nil))
	if fi, err := os.Stat(filepath.Join(root, File)); err != nil || fi.Size() != MaxSize {
		t.Errorf("the log on a read-only root: %v, %v", fi, err)
	}
}

// TestCutKeepsConcurrentAppends: where the log is cut in place (its .1 a directory that holds
// files), an event another writer appended while one writer cut the log is never lost: each
// append that returned nil is in the log afterwards, once. Writers that found the log full
// appended to it before the cutter truncated it, and their events went with the old ones.
func TestCutKeepsConcurrentAppends(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, File)
	rotated := filepath.Join(root, Rotated)
	if err := os.Mkdir(rotated, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rotated, "keep"), []byte("a user's file"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Each round fills the log and lets writers that start together find it full: the
	// first to lock it cuts it. One round lost an event about one time in eight.
	const rounds, writers, each = 100, 8, 10
	for round := 0; round < rounds; round++ {
		writeFull(t, path)
		start := make(chan struct{})
		acked := make(chan string, writers*each)
		errs := make(chan error, writers*each)
		done := make(chan struct{})
		for w := 0; w < writers; w++ {
			go func() {
				defer func() { done <- struct{}{} }()
				<-start
				for i := 0; i < each; i++ {
					id := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					if err := AppendErr(root, New(Image, "pull", id, nil)); err != nil {
						errs <- err
						continue
					}
					acked <- id
				}
			}()
		}
		close(start)
		for w := 0; w < writers; w++ {
			<-done
		}
		close(acked)
		close(errs)
		for err := range errs {
			t.Errorf("round %d: Append: %v", round, err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() >= MaxSize {
			t.Fatalf("round %d: the log was not cut: %v, %v", round, fi, err)
		}
		seen := map[string]int{}
		for _, m := range readAll(t, path) {
			seen[m.Actor.ID]++
		}
		lost := 0
		for id := range acked {
			if seen[id] != 1 {
				lost++
				if lost <= 3 {
					t.Errorf("round %d: event %s, appended, is %d times in the cut log, want once", round, id, seen[id])
				}
			}
		}
		if lost > 0 {
			t.Fatalf("round %d: %d of %d appended events are not in the cut log once", round, lost, writers*each)
		}
	}
}
