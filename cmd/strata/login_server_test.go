package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestLoginServerRefusedFirst: a server that is no host name (a terminal escape, a newline,
// 3000 bytes) is refused at once, in one short line with it quoted, before the password is
// read; it came back raw, and whole, in "login to …" messages.
func TestLoginServerRefusedFirst(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for _, server := range []string{"\x1b[2Jreg.example", "reg\n.example", strings.Repeat("a", 3000), "https://"} {
		in := strings.NewReader("s3cret\n")
		err := runLogin(context.Background(), &globals{}, loginOptions{user: "u", passwordStdin: true},
			server, in, io.Discard, io.Discard)
		if err == nil {
			t.Fatalf("login %s succeeded", quoteValue(server))
		}
		if strings.ContainsAny(err.Error(), "\x1b\n") || len(err.Error()) > 300 {
			t.Errorf("login %s = %s, want a short one-line error", quoteValue(server), quoteValue(err.Error()))
		}
		if in.Len() == 0 {
			t.Errorf("login %s read the password before refusing the server", quoteValue(server))
		}
	}
}
