package registry

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestStallSaysHowLong: a registry that accepts the connection and never answers fails a
// push saying how long it sent nothing: "registry H: timed out" alone did not say whether
// strata had given up at once or after minutes (two of them, by default, once retried).
func TestStallSaysHowLong(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // never answered
		}
	}()
	opts := testOptions()
	opts.retry = &retryPolicy{attempts: 4, backoff: time.Millisecond, maxRetryAfter: 5 * time.Millisecond, stall: 200 * time.Millisecond}
	within(t, 20*time.Second, func() {
		err = Push(context.Background(), mustRef(t, ln.Addr().String()+"/quiet/app:1"), randomImage(t), opts)
	})
	want := "registry " + ln.Addr().String() + ": timed out (nothing from it for 200ms)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Push to a registry that never answers = %v, want %q", err, want)
	}
}
