package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoginPasswordStdinTooLong: more on stdin than a password can be is refused before any
// request, not cut to the limit and sent, and stored, as the password.
func TestLoginPasswordStdinTooLong(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	in := bytes.Repeat([]byte("a"), maxPasswordStdin+10)
	// 127.0.0.1:1 refuses connections: nothing else is ever asked.
	err := runLogin(context.Background(), &globals{}, loginOptions{user: "u", passwordStdin: true},
		"127.0.0.1:1", bytes.NewReader(in), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "more than 64 KiB") {
		t.Errorf("login with %d bytes on stdin = %v, want an error saying it is too long", len(in), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); !os.IsNotExist(err) {
		t.Errorf("config.json written: %v", err)
	}
}
