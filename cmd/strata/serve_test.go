package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
)

// TestServeCLI runs `strata serve` on a free loopback port, pulls a manifest from it, and stops
// it as Ctrl-C would.
func TestServeCLI(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := startServe(t, ctx, root, io.Discard)
	req, _ := http.NewRequest("HEAD", "http://"+addr+"/v2/library/busybox/manifests/1.38.0-musl", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); resp.StatusCode != 200 || got != busyboxDigest {
		t.Errorf("HEAD manifest = %d %s, want 200 %s", resp.StatusCode, got, busyboxDigest)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after cancel = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after its context was cancelled")
	}
}

// TestServeFlags: option mistakes are refused before anything listens.
func TestServeFlags(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"serve", "--platform", "linux/arm64"}, "", "only applies with --pull-through"},
		{[]string{"serve", "--pull-through", "ftp://x.example"}, "", "invalid upstream"},
		{[]string{"serve", "--pull-through", "docker.io"}, "1", "STRATA_OFFLINE=1 forbids"},
		{[]string{"serve", "--addr", "127.0.0.1:99999"}, "", "serve:"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Setenv("STRATA_OFFLINE", tt.env)
			_, err := strata(t, root, nil, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("strata %v = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestPullOffline: with STRATA_OFFLINE=1 or --offline, pull answers from the store (by tag or
// by the digest of an image pulled by tag) and fails at once for anything else. The mirror
// points at a closed port: any network attempt would fail differently.
func TestPullOffline(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		env     string
		args    []string
		want    string
		wantErr string
	}{
		{"1", []string{"pull", "busybox:1.38.0-musl"}, "Status: Image is up to date for busybox:1.38.0-musl", ""},
		{"", []string{"pull", "--offline", "busybox:1.38.0-musl"}, "Status: Image is up to date", ""},
		{"1", []string{"pull", "busybox@" + busyboxDigest}, "Digest: " + busyboxDigest, ""},
		{"1", []string{"pull", "-q", "busybox:1.38.0-musl"}, "docker.io/library/busybox:1.38.0-musl\n", ""},
		{"1", []string{"pull", "alpine"}, "", "forbids the network"},
		{"", []string{"pull", "--offline", "busybox:latest"}, "", "not in the store"},
	}
	for _, tt := range tests {
		t.Run(tt.env+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			t.Setenv("STRATA_OFFLINE", tt.env)
			args := append([]string{"--registry-mirror", "http://127.0.0.1:1"}, tt.args...)
			out, err := strata(t, root, nil, args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("strata %v = %q, %v; want an error containing %q", tt.args, out, err, tt.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out, tt.want) {
				t.Errorf("strata %v = %q, %v; want %q", tt.args, out, err, tt.want)
			}
		})
	}
}

// TestServeCLIStopsSlowClient: a serve stopped (Ctrl-C) while a client that reads nothing is
// being sent a blob gives the response serveShutdownTimeout, then closes it and returns
// without an error: it returned "serve: shutting down: context deadline exceeded", exit 1,
// for a stop that was asked for.
func TestServeCLIStopsSlowClient(t *testing.T) {
	root := t.TempDir()
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	// Larger than the loopback socket buffers of both ends hold.
	img, err := random.Image(24<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.WriteImage(context.Background(), "docker.io/library/big:1", img, cache.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	layer, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	old := serveShutdownTimeout
	serveShutdownTimeout = 300 * time.Millisecond
	t.Cleanup(func() { serveShutdownTimeout = old })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	addr, done := startServe(t, ctx, root, &stderr)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /v2/library/big/blobs/%s HTTP/1.1\r\nHost: x\r\n\r\n", layer)
	conn.Read(make([]byte, 1)) // the response has started
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve stopped with a slow client = %v, want nil", err)
		}
		if !strings.Contains(stderr.String(), "closing 1 connections still serving") {
			t.Errorf("serve's stderr = %q, want it to say it closed the connection still serving", stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop with a slow client")
	}
}

// startServe runs `strata --root root serve --addr 127.0.0.1:0` until ctx ends, its stderr
// going to stderr, and returns the address it serves at and where its end is told.
func startServe(t *testing.T, ctx context.Context, root string, stderr io.Writer) (string, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	cmd := newRootCmd(&globals{})
	cmd.SetOut(pw)
	cmd.SetErr(stderr)
	cmd.SetArgs([]string{"--root", root, "serve", "--addr", "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading serve's first line: %v", err)
	}
	go io.Copy(io.Discard, pr)
	_, addr, ok := strings.Cut(strings.TrimSpace(line), " at http://")
	if !ok {
		t.Fatalf("serve printed %q, want its address", line)
	}
	return addr, done
}
