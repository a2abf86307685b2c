package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// With -t the init makes the command's terminal from the container's own devpts instance, as
// runc's console socket does: the name the command sees (tty says /dev/pts/0) exists in its
// /dev/pts, programs that reopen their terminal by name (ssh, sudo, gpg's pinentry) work, and
// /dev/console is that terminal. The master crosses the init socket as SCM_RIGHTS; strata
// copies between it and the user's terminal.

// setupConsole makes a pty in the container's devpts the init's controlling terminal and its
// stdio, binds it at /dev/console, and sends the master to the parent. It runs after pivot_root
// and before privileges drop; uid owns the terminal, as a login's does.
func setupConsole(uid uint32, size unix.Winsize) error {
	master, slave, err := openPTY()
	if err != nil {
		return err
	}
	defer master.Close()
	defer slave.Close()
	s := int(slave.Fd())
	if size.Row > 0 && size.Col > 0 {
		if err := unix.IoctlSetWinsize(s, unix.TIOCSWINSZ, &size); err != nil {
			return fmt.Errorf("setting up terminal: setting its size: %w", err)
		}
	}
	if err := unix.Fchown(s, int(uid), -1); err != nil {
		return fmt.Errorf("setting up terminal: %w", err)
	}
	// Bound before the pty becomes the init's controlling terminal: from then on, a failure
	// closes the master, which hangs the terminal up, and the SIGHUP killed the init before
	// it could report why (a /dev/console made a directory: "exited while setting up").
	if err := bindConsole(slave); err != nil {
		return err
	}
	// The parent starts the init in a session of its own, so it may take a terminal.
	if err := unix.IoctlSetInt(s, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("setting up terminal: making it the controlling terminal: %w", err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(s, fd, 0); err != nil {
			return fmt.Errorf("setting up terminal: %w", err)
		}
	}
	b, err := json.Marshal(initResult{Console: true})
	if err != nil {
		return err
	}
	if err := unix.Sendmsg(initPipeFD, append(b, '\n'), unix.UnixRights(int(master.Fd())), nil, 0); err != nil {
		return fmt.Errorf("setting up terminal: sending it to strata: %w", err)
	}
	return nil
}

// bindConsole binds the terminal at /dev/console (a file on the container's /dev tmpfs).
func bindConsole(slave *os.File) error { return bindConsoleAt(slave, "/dev/console") }

// consoleOpened, when not nil, runs between the opening of the console's mountpoint and the
// bind on it: tests swap the name for a symlink there.
var consoleOpened func()

// bindConsoleAt binds slave at console, the mountpoint opened once without following a
// symlink and bound through that descriptor, as the plan's steps are (mounttarget_linux.go):
// the /dev of a bind (-v /srv/dev:/dev) is a dir another container may write to, which could
// swap the name for a symlink to any path of the container (/proc/sysrq-trigger) between a
// check by name and a mount by name, or make it a FIFO, whose open for reading waited for a
// writer, the init with it (runc CVE-2025-52565: check what is mounted over).
func bindConsoleAt(slave *os.File, console string) error {
	fd, err := openConsoleTarget(console)
	if err != nil {
		return fmt.Errorf("setting up terminal: creating %s: %w", console, err)
	}
	defer unix.Close(fd)
	if consoleOpened != nil {
		consoleOpened()
	}
	if err := unix.Mount(fdPath(int(slave.Fd())), fdPath(fd), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("setting up terminal: binding %s: %w", console, err)
	}
	return nil
}

// openConsoleTarget opens what is at p, O_PATH (a FIFO's open does not wait), or makes an
// empty file there (O_EXCL: never through a symlink); a symlink or a directory is refused.
func openConsoleTarget(p string) (int, error) {
	for range 8 { // a name that comes and goes between the two opens
		fd, err := unix.Open(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			fd, err = unix.Open(p, unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
			if errors.Is(err, unix.EEXIST) {
				continue
			}
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: p, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, &os.PathError{Op: "stat", Path: p, Err: err}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			err = unix.ELOOP
		case unix.S_IFDIR:
			err = unix.EISDIR
		default:
			return fd, nil
		}
		unix.Close(fd)
		return -1, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return -1, &os.PathError{Op: "open", Path: p, Err: unix.EEXIST}
}

// maxInitMessage bounds one line from the init; its messages are short JSON objects.
const maxInitMessage = 64 << 10

// initReader reads the init's JSON lines from the socket, with any files sent alongside
// (SCM_RIGHTS): a json.Decoder over the socket would drop them.
type initReader struct {
	fd    int
	buf   []byte
	files []*os.File
}

// next returns the next line's message and the files that came with it or before it.
func (r *initReader) next() (initResult, []*os.File, error) {
	var m initResult
	chunk := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for !bytes.Contains(r.buf, []byte{'\n'}) {
		if len(r.buf) > maxInitMessage {
			return m, nil, errors.New("message too long")
		}
		n, oobn, _, _, err := unix.Recvmsg(r.fd, chunk, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return m, nil, err
		}
		if oobn > 0 {
			got, err := receivedFiles(oob[:oobn])
			if err != nil {
				return m, nil, err
			}
			r.files = append(r.files, got...)
		}
		if n == 0 {
			if len(r.buf) > 0 {
				return m, nil, errors.New("message cut short")
			}
			return m, nil, errEOF
		}
		r.buf = append(r.buf, chunk[:n]...)
	}
	line, rest, _ := bytes.Cut(r.buf, []byte{'\n'})
	r.buf = rest
	files := r.files
	r.files = nil
	if err := json.Unmarshal(line, &m); err != nil {
		closeFiles(files)
		return m, nil, err
	}
	return m, files, nil
}

// errEOF is the socket's end: the init exec'd (close-on-exec) or died.
var errEOF = errors.New("EOF")

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
