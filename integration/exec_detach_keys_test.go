package integration

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// TestExecDetachKeys: exec -it --detach-keys, as docker exec's: the keys typed on the user's
// terminal end strata exec with docker's "read escape sequence" and exit 1, the terminal
// restored, and the command runs on in the container, its terminal still open and read (it
// writes 200 KB a second to it, more than a terminal holds unread). The keys are not passed
// on; a bad value is refused before anything runs. strata exec knew no --detach-keys.
func TestExecDetachKeys(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	detached(t, root, "--name", "ed", "alpine", "sleep", "1000")

	// docker's daemon reads the keys at the exec's creation; its CLI exits 1 for its refusal.
	if r := strata(t, root, "exec", "-t", "--detach-keys", "ctrl-", "ed", "true"); r.Code != 1 || !strings.Contains(r.Stderr, "--detach-keys") {
		t.Errorf("exec --detach-keys ctrl- = exit %d, stderr %q; want 1 naming --detach-keys", r.Code, r.Stderr)
	}
	// As docker's: the terminal is checked before the exec is created, and the keys with it.
	if r := strata(t, root, "exec", "-it", "--detach-keys", "ctrl-", "ed", "true"); r.Code != 1 || !strings.Contains(r.Stderr, "not a TTY") {
		t.Errorf("exec -it --detach-keys ctrl- with stdin no terminal = exit %d, stderr %q; want 1, the input device is not a TTY", r.Code, r.Stderr)
	}

	user, tty, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pty on this machine: %v", err)
	}
	defer user.Close()
	// The terminal's modes, read on the master: its termios ioctls are the terminal's own.
	termios := func() *unix.Termios {
		t.Helper()
		rc, err := user.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var tio *unix.Termios
		if cerr := rc.Control(func(fd uintptr) { tio, err = unix.IoctlGetTermios(int(fd), unix.TCGETS) }); cerr != nil || err != nil {
			t.Fatalf("reading the terminal's modes: %v, %v", cerr, err)
		}
		return tio
	}
	modes := termios()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	script := `echo ready; read x; echo "got $x"; ` +
		`i=0; while :; do i=$((i+1)); echo $i > /tmp/alive; head -c 20000 /dev/zero | tr '\0' x; echo; sleep 0.1; done`
	cmd := exec.CommandContext(ctx, strataBin, "--root", root, "exec", "-it", "--detach-keys", "ctrl-x,x", "ed", "sh", "-c", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(user)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		for sc.Scan() {
			lines <- strings.TrimSpace(sc.Text())
		}
		close(lines)
	}()
	a := &attached{t: t, cmd: cmd}
	a.next(lines, "ready")
	if tio := termios(); tio.Lflag&(unix.ICANON|unix.ECHO) != 0 {
		t.Errorf("exec -it left the user's terminal cooked (lflag %#x): its keys would not reach the command one by one", tio.Lflag)
	}
	// ctrl-x alone, then x alone: a prefix broken by the next key reaches the command.
	_, _ = io.WriteString(user, "a\x18b\r")
	a.next(lines, "got a\x18b")
	_, _ = io.WriteString(user, "\x18x")
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exec -it after its detach keys = exit %d (%v), want 1; it showed %q", code, err, a.seen)
	}
	if !a.sawWithin(lines, "read escape sequence", 5*time.Second) {
		t.Errorf("exec -it's detach said nothing of it; it showed %q", a.seen[max(0, len(a.seen)-3):])
	}
	if now := termios(); now.Iflag != modes.Iflag || now.Oflag != modes.Oflag || now.Lflag != modes.Lflag || now.Cflag != modes.Cflag {
		t.Errorf("exec -it's detach left the user's terminal raw: modes %+v, before it %+v", *now, *modes)
	}
	// Runs on, writing: its terminal is read, or its writes would block once it holds no
	// more (a pty holds some 64 KiB unread). 10 rounds more, 200 KB, are waited for.
	alive := func() int {
		n, _ := strconv.Atoi(strings.TrimSpace(mustStrata(t, root, "exec", "ed", "cat", "/tmp/alive").Stdout))
		return n
	}
	from := alive()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		n := alive()
		if n >= from+10 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the command stopped once exec -it detached: %d rounds in 20 s, from round %d", n-from, from)
			break
		}
	}
}
