package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
func bindConsole(slave *os.File) error {
	f, err := os.OpenFile("/dev/console", os.O_CREATE|os.O_RDONLY|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("setting up terminal: creating /dev/console: %w", err)
	}
	f.Close()
	src := filepath.Join("/proc/self/fd", fmt.Sprint(slave.Fd()))
	if err := unix.Mount(src, "/dev/console", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("setting up terminal: binding /dev/console: %w", err)
	}
	return nil
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
