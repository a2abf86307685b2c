package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// TestLoginPromptInterrupted: the user's Ctrl-C at login's Username or Password prompt (the
// command's context cancelled, as root.go does on the first SIGINT) must end the prompt at
// once, with a one-line error, and leave the terminal echoing. The read went on: the first
// Ctrl-C did nothing, and the second, killing strata, left the password prompt's echo off.
func TestLoginPromptInterrupted(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for name, o := range map[string]loginOptions{
		"username":       {},
		"password":       {user: "alice"},
		"password-stdin": {user: "alice", passwordStdin: true},
	} {
		t.Run(name, func(t *testing.T) {
			ptm, tty, err := pty.Open()
			if err != nil {
				t.Skipf("no pty: %v", err)
			}
			defer ptm.Close()
			defer tty.Close()
			go io.Copy(io.Discard, ptm) // what the prompt echoes
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				// 127.0.0.1:1 refuses connections: nothing past the prompt answers.
				done <- runLogin(ctx, &globals{}, o, "127.0.0.1:1", tty, io.Discard, io.Discard)
			}()
			time.Sleep(300 * time.Millisecond)
			cancel()
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				// Let the read end, so the test can: lines for the prompts, then an end of
				// file (Ctrl-D at a line's start) for --password-stdin.
				ptm.Write([]byte("x\n"))
				ptm.Write([]byte("y\n\x04"))
				<-done
				t.Fatalf("login at the %s prompt still waited 5 s after the interrupt", name)
			}
			if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "interrupted") {
				t.Errorf("login interrupted at the %s prompt = %v, want one line saying it was interrupted", name, err)
			}
			st, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			if st.Lflag&unix.ECHO == 0 {
				t.Errorf("the terminal's echo is off after login was interrupted at the %s prompt", name)
			}
			ptm.Write([]byte("x\n\x04")) // let the abandoned read end
		})
	}
}

// TestLoginPasswordInterruptedAtOnce: a Ctrl-C that comes before the password read has
// begun (the context already cancelled as the prompt starts) leaves the terminal echoing:
// the read turned the echo off itself, in a goroutine, so a restore made on the interrupt
// could come first and the read then silenced the terminal for good.
func TestLoginPasswordInterruptedAtOnce(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for i := 0; i < 20; i++ {
		ptm, tty, err := pty.Open()
		if err != nil {
			t.Skipf("no pty: %v", err)
		}
		go io.Copy(io.Discard, ptm)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err = prompt(ctx, &loginOptions{user: "alice"}, tty, io.Discard)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("prompt with the context cancelled = %v, want interrupted", err)
		}
		time.Sleep(20 * time.Millisecond) // what the abandoned read would do, it has done
		st, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		ptm.Write([]byte("x\n")) // let the abandoned read end
		if st.Lflag&unix.ECHO == 0 {
			t.Fatalf("run %d: the terminal's echo is off after a password prompt interrupted at once", i)
		}
		tty.Close()
		ptm.Close()
	}
}

// TestLoginPasswordPrompt: the password typed at the prompt is read without its line end,
// not echoed, and the echo is back once it is read.
func TestLoginPasswordPrompt(t *testing.T) {
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptm.Close()
	defer tty.Close()
	echoed := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(ptm)
		echoed <- string(b)
	}()
	o := &loginOptions{user: "alice"}
	go func() {
		// Once the echo is off: typed before, the line would be echoed by the terminal.
		for i := 0; i < 500; i++ {
			if st, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS); err == nil && st.Lflag&unix.ECHO == 0 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		ptm.Write([]byte("s3cret pass\r"))
	}()
	if err := prompt(context.Background(), o, tty, tty); err != nil {
		t.Fatal(err)
	}
	if o.password != "s3cret pass" {
		t.Errorf("password = %q, want %q", o.password, "s3cret pass")
	}
	st, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if st.Lflag&unix.ECHO == 0 {
		t.Error("the terminal's echo is off after the password was read")
	}
	tty.Close()
	ptm.Close()
	if out := <-echoed; strings.Contains(out, "s3cret") {
		t.Errorf("the terminal showed the password: %q", out)
	}
}
