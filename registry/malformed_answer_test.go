package registry

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestMalformedAnswerWorded: a registry (or what stands on its port) that answers with what
// net/http cannot read as HTTP: a header line with an escape sequence, a status line of
// garbage, no HTTP at all; on the ping or on a manifest. The ping of a loopback registry
// tries https and http, and the error of the https try ("does not speak TLS (use
// --insecure …)") was all the user read, with advice that did not apply. The pull fails in
// one line that says the answer was not HTTP, its bytes escaped.
func TestMalformedAnswerWorded(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		name           string
		ping, manifest string
		tlsHangUp      bool // the https try's hello gets no answer, the connection closed
	}{
		{"header with an escape on the ping", "HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Bearer realm=\"http://127.0.0.1:1/\x1b[2J\"\r\nContent-Length: 0\r\n\r\n", "", false},
		{"status code of garbage on the ping", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", "", false},
		{"no HTTP on the ping", "\x1b]0;owned\x07<html>hello</html>\r\n\r\n", "", false},
		{"header with an escape on the ping, TLS hung up", "HTTP/1.1 200 OK\r\nX-Evil: \x1b[2J\r\n\r\n", "", true},
		{"header with an escape on the manifest", ok, "HTTP/1.1 200 OK\r\nX-Evil: a\x1b[2Jb\r\nContent-Length: 0\r\n\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						req, err := http.ReadRequest(bufio.NewReader(c))
						if err != nil {
							if tt.tlsHangUp {
								return
							}
							// The https try's TLS hello: answered as an HTTP server does.
							c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
							return
						}
						answer := tt.ping
						if req.URL.Path != "/v2/" {
							answer = tt.manifest
						}
						c.Write([]byte(answer))
					}()
				}
			}()
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Image(context.Background(), mustRef(t, ln.Addr().String()+"/x/y:1"))
			if err == nil {
				t.Fatal("pull from a registry answering garbage succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, "answered with what is not HTTP") || strings.Contains(msg, "TLS") ||
				strings.ContainsAny(msg, "\n\x1b\x07") {
				t.Errorf("error = %q, want one line saying the answer is not HTTP, its escapes escaped", msg)
			}
		})
	}
}
