package serve

import (
	"container/list"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Every client connection holds a descriptor, a goroutine and buffers, and one serving a blob
// a second descriptor: with no bound, a client that opens thousands of connections and sends
// nothing (or its headers a byte a second) runs the server out of descriptors, and every other
// client waits until the header timeout frees some. So a Listener keeps at most Max
// connections (and PerHost from one address). Past that, it closes the connection that has
// waited longest without a request under way: such a connection costs its client nothing to
// open again, where a request being served may be a blob half downloaded. Connections that
// never completed a request (idle since accepted, or sending their headers a byte at a time:
// what a flood is made of) go first, keep-alive connections idle after a request (real
// clients between two requests) only when none of those is left. When every connection is serving a
// request, the one whose client has acknowledged no byte for stalledAfter (a client reading a
// blob a byte a second, or none) is closed for it; failing that, the new one is answered 503
// (429 past PerHost) with Retry-After, which clients retry, and closed.

// ConnLimits bound the connections a Listener keeps open.
type ConnLimits struct {
	// Max is how many connections are open at once.
	Max int
	// PerHost is how many of them one client address may hold; 0 is no bound of its own.
	// Loopback clients are not bound by it: a TLS proxy in front of the server is one.
	PerHost int
}

const (
	// connsCeiling bounds DefaultConnLimits' Max whatever the descriptor limit: a connection
	// holds up to some 100 KiB (its goroutine, buffers, headers up to maxHeaderBytes being
	// read, a copy buffer while a blob is hashed), so 1024 of them stay around 100 MiB; 2048
	// sending 15 KiB of headers each and stopping held 210 MiB.
	connsCeiling = 1024
	// connsReserve is the descriptors kept for the rest of the server: the store's index
	// and manifests, pull-through connections and temp files, refusals under way.
	connsReserve = 128
	// maxRefusing bounds the refusals answered at once; past it a refused connection is
	// closed without an answer.
	maxRefusing = 64
	// refuseTimeout is how long a refusal may take to be sent; refuseLinger, how long the
	// client then has to close its end.
	refuseTimeout = time.Second
	refuseLinger  = 250 * time.Millisecond
)

// DefaultConnLimits fits the process's descriptor limit: each connection may hold two (its
// socket and a blob file), connsReserve are left for the rest, and Max is at most
// connsCeiling. One address may hold a quarter of them.
func DefaultConnLimits() ConnLimits {
	n := connsCeiling
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur != unix.RLIM_INFINITY {
		free := rl.Cur / 2 // a limit too small for the reserve: half of it for the rest
		if rl.Cur > 2*connsReserve {
			free = rl.Cur - connsReserve
		}
		n = int(max(1, min(uint64(connsCeiling), free/2)))
	}
	return ConnLimits{Max: n, PerHost: n / 4}
}

// Listener is a net.Listener that keeps the connections it accepted within its ConnLimits. Its
// ConnState method must be the http.Server's ConnState (NewHTTPServer sets it): the states say
// which connections have a request under way.
type Listener struct {
	net.Listener
	lim ConnLimits

	mu    sync.Mutex
	open  int
	hosts map[string]*hostConns
	// waiting lists the connections with no request under way, longest waiting first: by
	// tier, those that never sent a request first, then those idle after one.
	waiting waitLists
	// busy lists the connections with a request under way, in the order stalledLocked
	// looks at them next.
	busy list.List
	// stalledAfter is the const, but in tests.
	stalledAfter time.Duration
	refusing     chan struct{}
}

// hostConns is what one client address holds.
type hostConns struct {
	open    int
	waiting waitLists
}

// waitLists are the connections waiting for a request, by tier: [tierNew] those that have not
// sent one yet (a flood of idle or slowloris connections never does), [tierIdle] those idle
// after one (a real client's keep-alive connection, evicted only when no new one is left).
type waitLists [2]list.List

const (
	tierNew = iota
	tierIdle
)

// front returns the connection to evict first, or nil. Among those that have not sent a
// request, it passes over the first few whose request has arrived but not been read yet (a
// real client's, on a server too busy to have read it): a flood's connections have nothing
// waiting to be read, and a real client's is about to have a request under way.
func (w *waitLists) front() *trackedConn {
	e := w[tierNew].Front()
	for i := 0; e != nil && i < maxPendingSkipped && pending(e.Value.(*trackedConn).Conn); i++ {
		e = e.Next()
	}
	if e != nil {
		return e.Value.(*trackedConn)
	}
	if e := w[tierIdle].Front(); e != nil {
		return e.Value.(*trackedConn)
	}
	if e := w[tierNew].Front(); e != nil {
		return e.Value.(*trackedConn)
	}
	return nil
}

// maxPendingSkipped bounds how many connections with a request waiting front passes over.
const maxPendingSkipped = 16

// pending reports whether c has bytes received and not yet read (SIOCINQ).
func pending(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	rc.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	})
	return n > 0
}

// len counts the connections waiting.
func (w *waitLists) len() int { return w[tierNew].Len() + w[tierIdle].Len() }

// Limit returns ln bounded by lim. A Max of 0 or less is DefaultConnLimits'.
func Limit(ln net.Listener, lim ConnLimits) *Listener {
	if lim.Max <= 0 {
		lim.Max = DefaultConnLimits().Max
	}
	return &Listener{Listener: ln, lim: lim, hosts: map[string]*hostConns{}, refusing: make(chan struct{}, maxRefusing), stalledAfter: stalledAfter}
}

// trackedConn is a connection the Listener counts.
type trackedConn struct {
	net.Conn
	host     string
	loopback bool
	// Guarded by the Listener's mu.
	gone       bool          // evicted or closed: no longer counted
	elem, helm *list.Element // in waiting and in its host's waiting, while waiting
	tier       int           // of elem and helm
	belem      *list.Element // in busy, while a request is under way
	acked      uint64        // bytes the client had acknowledged when last looked at
	progressAt time.Time     // when acked last changed, or the request came
}

// ReadFrom keeps net/http's sendfile of blob files: it looks for an io.ReaderFrom on the conn.
func (c *trackedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

// CloseWrite lets net/http half-close the connection, as it does a *net.TCPConn.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Accept returns the next connection within the limits, answering and closing those past them.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc, evicted, status := l.admit(c)
		if evicted != nil {
			evicted.Conn.Close()
		}
		if tc != nil {
			return tc, nil
		}
		l.refuse(c, status)
	}
}

// admit counts c in, making room by evicting the connection waiting longest if the limits are
// reached; a status other than 0 refuses c.
func (l *Listener) admit(c net.Conn) (tc *trackedConn, evicted *trackedConn, status int) {
	tc = &trackedConn{Conn: c}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		tc.host, tc.loopback = hostKey(a.IP), a.IP.IsLoopback()
	} else {
		tc.host = c.RemoteAddr().String()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hosts[tc.host]
	if h == nil {
		h = &hostConns{}
		l.hosts[tc.host] = h
	}
	switch {
	case l.lim.PerHost > 0 && !tc.loopback && h.open >= l.lim.PerHost:
		if evicted = h.waiting.front(); evicted == nil {
			evicted = l.stalledLocked(tc.host, time.Now())
		}
		if evicted == nil {
			status = http.StatusTooManyRequests
		}
	case l.open >= l.lim.Max:
		if evicted = l.waiting.front(); evicted == nil {
			evicted = l.stalledLocked("", time.Now())
		}
		if evicted == nil {
			status = http.StatusServiceUnavailable
		}
	}
	if evicted != nil {
		l.forgetLocked(evicted)
	}
	if status != 0 {
		if h.open == 0 {
			delete(l.hosts, tc.host)
		}
		return nil, evicted, status
	}
	l.open++
	h.open++
	l.waitLocked(tc, h, tierNew)
	return tc, evicted, 0
}

// hostKey is the address PerHost counts a client under: its IPv4 address, or the /64 of its
// IPv6 one, since a single IPv6 host is usually given a whole /64 and could otherwise open
// PerHost connections from each of its addresses.
func hostKey(ip net.IP) string {
	if ip.To4() == nil && len(ip) == net.IPv6len {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// waitLocked lists c as waiting in tier, last.
func (l *Listener) waitLocked(c *trackedConn, h *hostConns, tier int) {
	if c.elem == nil {
		c.tier = tier
		c.elem = l.waiting[tier].PushBack(c)
		c.helm = h.waiting[tier].PushBack(c)
	}
}

// unwaitLocked takes c off the waiting lists.
func (l *Listener) unwaitLocked(c *trackedConn, h *hostConns) {
	if c.elem != nil {
		l.waiting[c.tier].Remove(c.elem)
		h.waiting[c.tier].Remove(c.helm)
		c.elem, c.helm = nil, nil
	}
}

// stalledAfter is how long a request under way may go with its client acknowledging no byte
// before its connection may be closed for a new one, when every connection is busy. Any client
// reading at 100 bytes a second acknowledges some in that time.
const stalledAfter = 30 * time.Second

// maxStalledLooks bounds how many busy connections one admit looks at: each is a getsockopt.
const maxStalledLooks = 64

// stalledLocked returns a busy connection (of host, unless "") whose client has acknowledged
// no byte for stalledAfter, or nil. It looks at the busy connections in turn, up to
// maxStalledLooks of them, each look moving one to the back of the list and noting what its
// client acknowledged since the last.
func (l *Listener) stalledLocked(host string, now time.Time) *trackedConn {
	for i, n := 0, l.busy.Len(); i < min(n, maxStalledLooks); i++ {
		e := l.busy.Front()
		c := e.Value.(*trackedConn)
		l.busy.MoveToBack(e)
		if host != "" && c.host != host {
			continue
		}
		acked, ok := tcpAcked(c.Conn)
		if !ok {
			continue
		}
		if acked != c.acked {
			c.acked, c.progressAt = acked, now
			continue
		}
		if now.Sub(c.progressAt) >= l.stalledAfter {
			return c
		}
	}
	return nil
}

// tcpAcked returns how many bytes the peer of c has acknowledged (TCP_INFO).
func tcpAcked(c net.Conn) (uint64, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info *unix.TCPInfo
	rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if err != nil || info == nil {
		return 0, false
	}
	return info.Bytes_acked, true
}

// activeLocked lists c as busy from now.
func (l *Listener) activeLocked(c *trackedConn, now time.Time, acked uint64) {
	if c.belem == nil {
		c.belem = l.busy.PushBack(c)
	}
	c.acked, c.progressAt = acked, now
}

// inactiveLocked takes c off the busy list.
func (l *Listener) inactiveLocked(c *trackedConn) {
	if c.belem != nil {
		l.busy.Remove(c.belem)
		c.belem = nil
	}
}

// forgetLocked stops counting c.
func (l *Listener) forgetLocked(c *trackedConn) {
	if c.gone {
		return
	}
	c.gone = true
	h := l.hosts[c.host]
	l.unwaitLocked(c, h)
	l.inactiveLocked(c)
	l.open--
	if h.open--; h.open == 0 {
		delete(l.hosts, c.host)
	}
}

// ConnState follows the http.Server's connections: new and idle ones wait for a request, an
// active one has one under way, a closed one is no longer counted.
func (l *Listener) ConnState(c net.Conn, st http.ConnState) {
	tc, ok := c.(*trackedConn)
	if !ok {
		return
	}
	var acked uint64
	if st == http.StateActive {
		acked, _ = tcpAcked(tc.Conn) // before the lock: a system call
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if tc.gone {
		return
	}
	switch st {
	case http.StateNew, http.StateIdle:
		tier := tierNew
		if st == http.StateIdle {
			tier = tierIdle
		}
		h := l.hosts[tc.host]
		l.inactiveLocked(tc)
		l.unwaitLocked(tc, h) // to the back: it starts waiting now
		l.waitLocked(tc, h, tier)
	case http.StateActive:
		l.unwaitLocked(tc, l.hosts[tc.host])
		l.activeLocked(tc, time.Now(), acked)
	case http.StateClosed, http.StateHijacked:
		l.forgetLocked(tc)
	}
}

// refuse answers c with status, the spec's error body and Retry-After, and closes it, without
// holding up Accept. The request is read (and discarded) until the client closes or
// refuseLinger passes: closing a socket with unread data resets it, and the client might
// never see the answer.
func (l *Listener) refuse(c net.Conn, status int) {
	select {
	case l.refusing <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-l.refusing }()
		defer c.Close()
		code, msg := "UNAVAILABLE", "the registry is serving as many connections as it can; retry later"
		if status == http.StatusTooManyRequests {
			code, msg = "TOOMANYREQUESTS", "this client holds as many connections as the registry allows one; retry later"
		}
		body := fmt.Sprintf(`{"errors":[{"code":%q,"message":%q}]}`, code, msg)
		c.SetWriteDeadline(time.Now().Add(refuseTimeout))
		fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nRetry-After: 1\r\nDocker-Distribution-API-Version: registry/2.0\r\nConnection: close\r\n\r\n%s",
			status, http.StatusText(status), len(body), body)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		c.SetReadDeadline(time.Now().Add(refuseLinger))
		io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}()
}

// Open returns how many connections are counted, for tests and logs.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Timeouts and sizes of NewHTTPServer.
const (
	// readHeaderTimeout is how long a client has to send a request's headers.
	readHeaderTimeout = 30 * time.Second
	// idleTimeout is how long a keep-alive connection may wait for its next request.
	idleTimeout = 2 * time.Minute
	// maxHeaderBytes bounds a request's line and headers; a registry client sends well under
	// 8 KiB (this server asks for no credentials). With 64 KiB, connections that sent 60 KiB
	// of headers and stopped held some 300 KiB of memory each: 2048 of them, 620 MiB.
	maxHeaderBytes = 16 << 10
)

// NewHTTPServer returns the http.Server that serves h on l: headers within readHeaderTimeout
// and maxHeaderBytes, idle connections closed after idleTimeout, and l told every connection's
// state. It sets no WriteTimeout, which would cut a large blob off on a slow but steady link:
// the Server's stall timeout ends only responses that make no progress.
func NewHTTPServer(h http.Handler, l *Listener) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnState:         l.ConnState,
	}
}
