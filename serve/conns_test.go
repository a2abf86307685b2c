package serve

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// limitedServer serves h on a loopback Listener bounded by lim until the test ends.
func limitedServer(t *testing.T, h http.Handler, lim ConnLimits) (addr string, l *Listener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l = Limit(ln, lim)
	srv := NewHTTPServer(h, l)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), l
}

// TestListenerMakesRoom: past Max, the connection waiting longest for a request is closed for
// a new one, and one with a request under way is not.
func TestListenerMakesRoom(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "ok")
	})
	addr, l := limitedServer(t, h, ConnLimits{Max: 4})

	// A request under way, on a connection the flood must not take.
	slow := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		slow <- err
	}()
	waitFor(t, func() bool { return l.Open() == 1 })

	var idle []net.Conn
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < 3; i++ {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("GET with %d idle connections open and Max 4: %v", len(idle), err)
		}
		resp.Body.Close()
	}
	if n := l.Open(); n > 4 {
		t.Errorf("%d connections counted open, want at most Max 4", n)
	}
	// The oldest idle connections were closed for the new ones.
	idle[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle[0].Read(make([]byte, 1)); err == nil {
		t.Errorf("the first idle connection is still open")
	}
	once.Do(func() { close(release) })
	if err := <-slow; err != nil {
		t.Errorf("the request under way: %v, want its answer", err)
	}
}

// TestListenerRefusesWhenBusy: when every connection has a request under way, a new one is
// answered 503 with Retry-After and the spec's error body, and closed.
func TestListenerRefusesWhenBusy(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	})
	addr, l := limitedServer(t, h, ConnLimits{Max: 2})
	for i := 0; i < 2; i++ {
		go func() {
			if resp, err := http.Get("http://" + addr + "/"); err == nil {
				resp.Body.Close()
			}
		}()
	}
	waitFor(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.open == 2 && l.waiting.len() == 0
	})

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("a connection past Max, all busy: %v, want a 503", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(body), `"code":"UNAVAILABLE"`) || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("refusal = %d %q (Retry-After %q, Content-Type %q), want 503 UNAVAILABLE with Retry-After",
			resp.StatusCode, body, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"))
	}
	if n := l.Open(); n != 2 {
		t.Errorf("after a refusal %d connections counted, want 2", n)
	}
}

// fakeConn is a connection from a remote address of the test's choice.
type fakeConn struct {
	net.Conn
	remote net.Addr
}

func (c fakeConn) RemoteAddr() net.Addr { return c.remote }

// TestListenerPerHost: one remote address holds at most PerHost connections, its own waiting
// ones closed first; loopback clients (a proxy in front) are bound by Max only.
func TestListenerPerHost(t *testing.T) {
	l := Limit(nil, ConnLimits{Max: 20, PerHost: 2})
	conn := func(ip string) net.Conn {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		return fakeConn{a, &net.TCPAddr{IP: net.ParseIP(ip), Port: 1}}
	}
	admit := func(ip string) (*trackedConn, *trackedConn, int) {
		tc, ev, st := l.admit(conn(ip))
		if ev != nil {
			ev.Conn.Close()
		}
		return tc, ev, st
	}
	a1, _, _ := admit("192.0.2.1")
	a2, _, _ := admit("192.0.2.1")
	l.ConnState(a1, http.StateActive)
	// A third from 192.0.2.1 takes the place of its waiting one, a2.
	a3, ev, st := admit("192.0.2.1")
	if st != 0 || ev != a2 {
		t.Fatalf("third connection of a host: status %d, evicted %v; want admitted in place of its waiting one", st, ev)
	}
	l.ConnState(a3, http.StateActive)
	// Both busy: a fourth is refused 429; another host is admitted.
	if _, _, st := admit("192.0.2.1"); st != http.StatusTooManyRequests {
		t.Errorf("a host past PerHost with all busy: status %d, want 429", st)
	}
	if _, _, st := admit("192.0.2.2"); st != 0 {
		t.Errorf("another host: status %d, want admitted", st)
	}
	for i := 0; i < 5; i++ {
		if _, _, st := admit("127.0.0.1"); st != 0 {
			t.Errorf("loopback connection %d: status %d, want admitted (PerHost does not bind loopback)", i, st)
		}
	}
	if n := l.Open(); n != 2+1+5 {
		t.Errorf("%d connections counted, want 8", n)
	}
	l.ConnState(a1, http.StateClosed)
	l.ConnState(a1, http.StateClosed)
	if n := l.Open(); n != 7 {
		t.Errorf("after a close (reported twice) %d counted, want 7", n)
	}
	// The addresses of one IPv6 /64 are one host; another /64 is another.
	b1, _, _ := admit("2001:db8:1:2::1")
	b2, _, _ := admit("2001:db8:1:2:ffff::2")
	l.ConnState(b1, http.StateActive)
	l.ConnState(b2, http.StateActive)
	if _, _, st := admit("2001:db8:1:2::3"); st != http.StatusTooManyRequests {
		t.Errorf("a third address of a busy IPv6 /64: status %d, want 429", st)
	}
	if _, _, st := admit("2001:db8:1:3::1"); st != 0 {
		t.Errorf("another IPv6 /64: status %d, want admitted", st)
	}
	if _, _, st := admit("::ffff:192.0.2.3"); st != 0 {
		t.Errorf("an IPv4-mapped address: status %d, want admitted as its IPv4 host", st)
	}
}

// TestListenerServesBlobs: a blob goes out whole through the Listener's connections (whose
// ReadFrom keeps sendfile), a first GET hashing it as it streams and a second from the file.
func TestListenerServesBlobs(t *testing.T) {
	store, layer := storeBigImage(t, 3<<20)
	addr, _ := limitedServer(t, New(store, Options{}), ConnLimits{Max: 8})
	for i := 0; i < 2; i++ {
		resp, err := http.Get("http://" + addr + "/v2/library/big/blobs/" + layer.String())
		if err != nil {
			t.Fatal(err)
		}
		got, n, err := v1.SHA256(resp.Body)
		resp.Body.Close()
		if err != nil || got != layer || resp.StatusCode != 200 {
			t.Errorf("GET #%d of a blob = %d, %d bytes hashing to %s (%v), want %s", i, resp.StatusCode, n, got, err, layer)
		}
	}
}

func TestDefaultConnLimits(t *testing.T) {
	lim := DefaultConnLimits()
	if lim.Max < 1 || lim.Max > connsCeiling || lim.PerHost != lim.Max/4 {
		t.Errorf("DefaultConnLimits() = %+v", lim)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached in 5 s")
}

// TestNewHTTPServerHeaderBound: a request's headers are bounded at 16 KiB, far above what
// registry clients send: each connection reading headers holds several times their size, and
// with 64 KiB, 2048 connections that sent 60 KiB and stopped held 620 MiB.
func TestNewHTTPServerHeaderBound(t *testing.T) {
	addr, _ := limitedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), ConnLimits{Max: 8})
	for _, tt := range []struct {
		size int
		want int
	}{{4 << 10, 200}, {20 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /v2/ HTTP/1.1\r\nHost: x\r\nX-A: "+strings.Repeat("a", tt.size)+"\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatalf("a request with %d bytes of headers: %v", tt.size, err)
		}
		if resp.StatusCode != tt.want {
			t.Errorf("a request with %d bytes of headers = %d, want %d", tt.size, resp.StatusCode, tt.want)
		}
	}
}

// TestListenerKeepsClientsIdle: a flood of connections that never send a request takes their
// own places, not a real client's keep-alive connection between two of its requests.
func TestListenerKeepsClientsIdle(t *testing.T) {
	addr, l := limitedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}), ConnLimits{Max: 4})
	client, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	br := bufio.NewReader(client)
	get := func(what string) {
		client.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(client, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get("the client's first request")
	waitFor(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.waiting[tierIdle].Len() == 1
	})
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	waitFor(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.waiting[tierNew].Len() == 3
	})
	time.Sleep(100 * time.Millisecond) // the rest of the flood accepted, in place of its own
	get("the client's second request on its keep-alive connection, after a flood")
}

// TestListenerSparesPendingRequest: making room, a connection whose request has arrived but
// not been read yet (a real client's, on a server too busy to have got to it) is passed over
// for one with nothing to read (a flood's): under a flood of thousands of silent connections a
// second, a client's new connection was closed before its request was read.
func TestListenerSparesPendingRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l := Limit(nil, ConnLimits{Max: 3})
	var clients []net.Conn
	var tracked []*trackedConn
	accept := func() (*trackedConn, *trackedConn, int) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); s.Close() })
		tc, ev, st := l.admit(s)
		tracked = append(tracked, tc)
		return tc, ev, st
	}
	for i := 0; i < 3; i++ {
		accept()
	}
	// The oldest has its request waiting; the other two sent nothing.
	io.WriteString(clients[0], "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, func() bool { return pending(tracked[0].Conn) })
	_, ev, st := accept()
	if st != 0 || ev != tracked[1] {
		t.Errorf("making room: evicted %v (status %d), want the oldest silent connection %v, not the one with a request waiting %v", ev, st, tracked[1], tracked[0])
	}
}

// TestListenerClosesStalledForNew: when every connection has a request under way, one whose
// client has acknowledged nothing for stalledAfter (reading a blob a byte a second, or not at
// all) is closed for a new client, which a 503 otherwise keeps out until the stall timeout
// ends the stalled response, two minutes.
func TestListenerClosesStalledForNew(t *testing.T) {
	big := make([]byte, 1<<20)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			io.WriteString(w, "ok")
			return
		}
		for i := 0; i < 64; i++ {
			if _, err := w.Write(big); err != nil {
				return
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Limit(ln, ConnLimits{Max: 2})
	l.stalledAfter = 300 * time.Millisecond
	srv := NewHTTPServer(h, l)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	// Two clients that ask for a large answer and read none of it.
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(4096)
		io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	waitFor(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.busy.Len() == 2
	})
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := client.Get("http://" + addr + "/small")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(body) == "ok" {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("a new client while every connection serves a stalled client: still %s after 10 s, want served once one has stalled for %v", last, l.stalledAfter)
}
