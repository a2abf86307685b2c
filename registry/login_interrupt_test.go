package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holdConfigLock takes the lock that login and logout take on the Docker config directory of
// path, as another strata login in the middle of its write would hold it, until the test ends.
func holdConfigLock(t *testing.T, path string) {
	t.Helper()
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
}

// TestConfigLockWaitInterrupted: while another login or logout holds config.json's lock, a
// login or logout waits for it (up to configLockWait, a minute), and the user's Ctrl-C, which
// cancels the command's context, must end that wait at once with a one-line error, as every
// other wait of strata ends. The wait slept on regardless: the first Ctrl-C did nothing, and
// only a second one (the default action, no message) ended strata.
func TestConfigLockWaitInterrupted(t *testing.T) {
	host := serve(t, basicAuth("alice", "s3cret"))
	old := configLockWait
	configLockWait = 20 * time.Second
	t.Cleanup(func() { configLockWait = old })

	for name, call := range map[string]func(context.Context) error{
		"login": func(ctx context.Context) error {
			return Login(ctx, host, "alice", "s3cret", testOptions())
		},
		"logout": func(ctx context.Context) error { return LogoutContext(ctx, host) },
		"logout namespace": func(ctx context.Context) error {
			return LogoutContext(ctx, host+"/team")
		},
	} {
		t.Run(name, func(t *testing.T) {
			content := `{"auths":{"` + host + `":{"auth":"YWxpY2U6czNjcmV0"},"` + host + `/team":{"auth":"YWxpY2U6czNjcmV0"}}}`
			path := dockerConfigDir(t, content)
			holdConfigLock(t, path)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			time.AfterFunc(300*time.Millisecond, cancel)
			start := time.Now()
			err := call(ctx)
			took := time.Since(start)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%s interrupted while the lock is held = %v after %s, want context.Canceled", name, err, took)
			}
			if took > 3*time.Second {
				t.Errorf("%s took %s to stop after the interrupt, want at once", name, took)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "interrupted") {
				t.Errorf("%s error = %q, want one line that says it was interrupted", name, msg)
			}
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Errorf("config.json changed by an interrupted %s:\n%s", name, b)
			}
		})
	}
}
