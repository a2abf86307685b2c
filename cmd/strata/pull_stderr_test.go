package main

import (
	"bytes"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPullKeepsHTTPLogOffStderr: a registry that sends more bytes than its Content-Length
// (here after each manifest) made net/http's own logger print "Unsolicited response
// received on idle HTTP channel starting with …", the registry's bytes quoted, on strata's
// stderr, a line of no strata message; the pull itself is sound (what it stores is verified).
func TestPullKeepsHTTPLogOffStderr(t *testing.T) {
	host := fixtureRegistry(t)
	up, err := url.Parse("http://" + host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(up)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/manifests/") {
			proxy.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		proxy.ServeHTTP(rec, r)
		conn, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		body := rec.Body.Bytes()
		fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", rec.Code, http.StatusText(rec.Code))
		for _, k := range []string{"Content-Type", "Docker-Content-Digest"} {
			if v := rec.Header().Get(k); v != "" {
				fmt.Fprintf(bw, "%s: %s\r\n", k, v)
			}
		}
		fmt.Fprintf(bw, "Content-Length: %d\r\n\r\n", len(body))
		bw.Write(body)
		bw.WriteString("GARBAGE AFTER THE BODY\r\n\r\n")
		bw.Flush()
		// Held open a moment, idle, as a keep-alive connection: the client reads the rest.
		buf := make([]byte, 1)
		_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, _ = conn.Read(buf)
	}))
	t.Cleanup(srv.Close)
	var logged bytes.Buffer
	log.SetOutput(&logged)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	name := strings.TrimPrefix(srv.URL, "http://") + "/library/busybox:1.38.0-musl"
	if _, err := strata(t, t.TempDir(), nil, "pull", "-q", "--no-unpack", name); err != nil {
		t.Fatalf("pull %s: %v", name, err)
	}
	if logged.Len() > 0 {
		t.Errorf("pull let net/http's logger print %q", logged.String())
	}
}
