package main

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// TestInterruptedSaysSo: a pull (at its up-to-date check), a push and a login that the user
// interrupts while the registry has not answered end with one line that says so and names
// the image or registry, as a pull interrupted in its download does. They ended with
// net/http's words for the request that was cut, `Head "http://…/v2/…/blobs/sha256:…": context
// canceled`, which named neither, or the image behind `pulling X: Get "URL": …`.
func TestInterruptedSaysSo(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	var hang atomic.Bool
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	target := host + "/t/bb:1"
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", target); err != nil {
		t.Fatal(err)
	}
	// Pushed, the image is recorded as the registry's: the next pull asks whether it is up to date.
	if _, err := strata(t, root, nil, "push", target); err != nil {
		t.Fatal(err)
	}
	hang.Store(true)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"pull", "--no-unpack", target}, "pulling " + target + ": interrupted"},
		{[]string{"push", target}, "pushing " + target + ": interrupted"},
		{[]string{"login", "-u", "u", "--password-stdin", host}, "login to " + host + ": interrupted"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		cmd := newRootCmd(&globals{})
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SetIn(strings.NewReader("pw\n"))
		cmd.SetArgs(append([]string{"--root", root}, tt.args...))
		err := cmd.ExecuteContext(ctx)
		cancel()
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "http://") {
			t.Errorf("%s interrupted = %v, want an error starting %q, without net/http's URL", tt.args[0], err, tt.want)
		}
	}
}
