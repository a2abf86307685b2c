package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// startServeLimited runs `strata serve` on a free loopback port with its descriptor limit set
// to nofile (soft and hard, so that the Go runtime cannot raise it), stopped by its PID when
// the test ends. It returns the address once the server answers.
func startServeLimited(t *testing.T, root string, nofile int) string {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command("sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile),
		strataBin, "--root", root, "serve", "--addr", addr)
	cmd.Env = testEnv(t.TempDir())
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("strata serve did not stop on SIGTERM: killed")
		}
	})
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			return addr
		}
		if i == 200 {
			t.Fatalf("strata serve on %s does not answer: %v (stderr: %s)", addr, err, stderr.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestServeConnectionFlood: clients that open more connections than the server has
// descriptors and send nothing on them, or their headers a byte at a time, must not keep
// other clients out. Without a bound the server ran out of descriptors, its accept loop
// backed off, and a client's GET /v2/ waited until the 30 s header timeout freed some; now
// the connections waiting longest for a request are closed to make room.
func TestServeConnectionFlood(t *testing.T) {
	root := newRoot(t)
	const nofile = 256
	addr := startServeLimited(t, root, nofile)
	for _, mode := range []string{"idle", "slowloris"} {
		t.Run(mode, func(t *testing.T) {
			var flood []net.Conn
			defer func() {
				for _, c := range flood {
					c.Close()
				}
			}()
			for i := 0; i < 2*nofile; i++ {
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err != nil {
					break // the listen backlog is full: as much as the kernel lets through
				}
				if mode == "slowloris" {
					c.Write([]byte("GET /v2/ HTTP/1.1\r\nHo"))
				}
				flood = append(flood, c)
			}
			time.Sleep(500 * time.Millisecond) // for the server to accept what it will
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for i := 0; i < 3; i++ {
				start := time.Now()
				resp, err := client.Get("http://" + addr + "/v2/")
				if err != nil {
					t.Fatalf("GET /v2/ with %d %s connections open: %v after %v", len(flood), mode, err, time.Since(start).Round(time.Millisecond))
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != "{}" {
					t.Fatalf("GET /v2/ with %d %s connections open = %d %q, want 200 {}", len(flood), mode, resp.StatusCode, body)
				}
			}
			// The flood's connections that survived are still connections: a slowloris one
			// gets its answer when it ends its headers, if it was not closed to make room.
			if mode == "slowloris" {
				c := flood[len(flood)-1]
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.Write([]byte("st: x\r\n\r\n"))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Errorf("the last slowloris connection, ended: %d, want 200", resp.StatusCode)
					}
				}
			}
		})
	}
}
