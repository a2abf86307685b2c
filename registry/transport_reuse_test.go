package registry

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestRetryLeftoverOnReusedConn: a registry that sends bytes past an answer's Content-Length
// (cmd/strata's TestPullKeepsHTTPLogOffStderr plays one) has them read as the answer to the
// next request when net/http sends it on that kept-alive connection before it sees them
// arrive: "malformed HTTP status code", and the pull failed (1 run of 2 under go test -race).
// The request is retried on another connection. An answer that is not HTTP on a new
// connection is the registry's own, and is not retried.
func TestRetryLeftoverOnReusedConn(t *testing.T) {
	for _, fresh := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var conns atomic.Int32
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				n := conns.Add(1)
				go func() {
					defer c.Close()
					br := bufio.NewReader(c)
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					if fresh {
						c.Write([]byte("GARBAGE AFTER THE BODY\r\n\r\n"))
						return
					}
					c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
					// The bytes past the body arrive once the next request is on its way: the
					// order a busy client meets by chance, made certain. Only the first
					// connection does it.
					if _, err := http.ReadRequest(br); err != nil || n > 1 {
						return
					}
					c.Write([]byte("GARBAGE AFTER THE BODY\r\n\r\n"))
				}()
			}
		}()
		tr := &http.Transport{}
		rt := &retryTransport{inner: tr, policy: retryPolicy{attempts: 4, backoff: time.Millisecond}}
		var errs []error
		for range 2 {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+ln.Addr().String()+"/v2/", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := rt.RoundTrip(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			errs = append(errs, err)
		}
		tr.CloseIdleConnections()
		ln.Close()
		if fresh {
			if errs[0] == nil || conns.Load() != 2 {
				t.Errorf("a registry answering with what is not HTTP on new connections: %v, %d connections; want an error, no retry", errs, conns.Load())
			}
		} else if errs[0] != nil || errs[1] != nil {
			t.Errorf("a registry sending bytes past an answer: %v, want both requests answered", errs)
		}
	}
}
