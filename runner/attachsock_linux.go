package runner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// A detached container's monitor serves the container's stdio to `strata attach` on a unix
// socket in the container's dir, as conmon's attach socket does for podman: what the
// container writes goes to every attached client as well as to its log, and what a client
// sends goes to the container's stdin (-i) or sizes its terminal (-t). The socket is the
// monitor's, root's, mode 0600 in a dir only root may enter.
//
// The protocol is frames both ways: a kind byte, a big-endian uint32 length, the payload.
// A client's first frame is its hello; the monitor sends it nothing before.
//
// A stdin frame without a payload says the client's stdin has ended ("stdin closed"): the
// monitor closes the container's stdin if the container was made StdinOnce (-i with stdin
// attached: create -i, run -i in the foreground; not run -d -i) and has no terminal
// (setStdinOnce), whichever client it is (start -ai, attach), as docker's daemon closes it at
// the end of any attach's stdin for a StdinOnce container (container/stream/attach.go,
// CloseStdin). It does too when a client that attached stdin (attachStdin) leaves, as
// docker's attach closes its stdin with its output. It is an empty stdin frame, not a kind
// of its own, because a monitor from before it drops a client on a frame of a kind it does
// not know (receive): there, an empty stdin frame writes nothing, and the attach goes on as
// it did.
const attachSocket = "attach"

const (
	frameHello  = 'h' // client to monitor, first: flags, one byte (attachReplay, attachBlock)
	frameStdin  = 'i' // client to monitor: bytes for the container's stdin; none: its stdin ended
	frameResize = 'w' // client to monitor: the terminal's rows and columns, uint16 each
	frameStdout = 'o' // monitor to client: what the container wrote
	frameStderr = 'e'
	frameExit   = 'x' // monitor to client, the last frame: the container's exit code, int32
	frameRefuse = 'r' // monitor to client, the only frame: why it is not served (text)
	// frameHangUp, client to monitor, empty: hang the container's terminal up (-t), as a
	// foreground run -t hangs it up when its output takes no more (copyOutput): run -it's
	// attach sends it once its own output has gone (AttachOptions.HangUp).
	frameHangUp = 'u'
)

const (
	// attachFrameMax bounds a frame's payload; a client that sends a bigger one is dropped.
	attachFrameMax = 32 << 10
	// attachClientsMax bounds the clients attached at once; more are refused.
	attachClientsMax = 32
	// attachQueue and attachQueueBytes bound how far a client may lag behind, in frames and
	// in bytes, before the container's output waits for it, attachStall at most; then it is
	// dropped. A slow client slows the container as docker's attach does, one that does not
	// read cannot stop it. The bytes bound what a stalled client costs the monitor, which
	// lives for days on a 16 MiB memory limit: 64 frames of 32 KiB were 2 MiB. An
	// attachBlock client is waited for as long as it lags, never dropped for it.
	attachQueue      = 64
	attachQueueBytes = 1 << 20
	attachStall      = 2 * time.Second
	// attachFlush bounds how long the monitor, at the container's end, waits for its
	// clients to take their last frames.
	attachFlush = 2 * time.Second
	// attachHello bounds the wait for a client's hello.
	attachHello = 5 * time.Second
	// attachHistoryMax bounds the output kept for clients that ask for a replay: start -ai
	// attaches once the start is reported, and gets what came before from it (all of it,
	// attachStarterMax at most, while the hold for it lasts: holdForStarter).
	attachHistoryMax = 64 << 10
	// attachHistoryChunks bounds the pieces the history is kept in, and so the frames of a
	// replay: a write joins the last piece when it is of the same stream and small (output
	// written a byte at a time makes pieces of attachHistoryChunk bytes, not a frame a byte,
	// 11,000 of them in 64 KiB), so only output switching streams every 64 bytes or less
	// reaches it.
	attachHistoryChunks = 1024
	attachHistoryChunk  = 4 << 10
	// attachStarterMax bounds the output kept, while a hold for the starter's attach lasts
	// (holdForStarter), for that attach's replay: beyond it, the container's output waits
	// for that attach to join, the hold to end.
	attachStarterMax = 1 << 20
)

const (
	// attachReplay, in a hello, asks for the container's output since its start (the last
	// attachHistoryMax bytes of it) before the rest.
	attachReplay = 1
	// attachBlock, in a hello, makes the client one whose full queue the container's output
	// waits for, for as long as it stays full, and whose last frames the end waits for: it
	// is never dropped for lagging, only when its connection ends. It is the attach of the
	// run -it, start -ai or start -a that started the container, whose output went with
	// backpressure to its user as a foreground run's does (and docker's attach streams do):
	// `run -it | less` lost all that came after less had stopped reading for attachStall.
	// The container waits; the monitor holds no more for it than its queue's bounds.
	attachBlock = 2
	// attachRelease, in a hello, is no client: it tells the monitor that its container is
	// being force-removed (rm -f, once its PID 1 is dead) and that attachBlock clients are
	// waited for no longer than others. A stalled run -it (its user scrolled back) held the
	// copy of the container's last output, so the monitor never recorded the exit, and the
	// rm, having waited, killed it: the run, and every `strata wait`, lost the 137 docker's
	// report. A monitor from before it takes it as the hello of a client that reads nothing.
	attachRelease = 4
	// attachStdin, in a hello, says the client attaches stdin: its leaving ends a StdinOnce
	// container's stdin as the end of its input does. A monitor from before ignores it.
	attachStdin = 8
)

// attachHub is the monitor's side: its clients, and where their input goes.
type attachHub struct {
	// outMu orders the output's frames: broadcast and finish hold it throughout, and a
	// client's queue is sent to (once it is in clients) and closed only under it. A wait
	// for room in an attachBlock client's queue, for as long as it takes, holds no other
	// lock: clients still join and leave, and terminals are still sized, meanwhile.
	outMu   sync.Mutex
	mu      sync.Mutex
	clients map[*attachClient]struct{}
	ln      *os.File // the listening socket
	ended   bool
	pty     *os.File // the container's terminal master (-t), once it has one
	hangUp  func()   // closes pty, once (the terminal's closePty)
	// size is the rows and columns the terminal starts with (Config.ConsoleSize), set
	// before the container starts.
	size [2]uint16
	// history is the output, attachHistoryMax bytes at most, for replays, in the order
	// written; histLen is its bytes.
	history []historyChunk
	histLen int

	stdinMu sync.Mutex // one client's frame at a time
	stdin   io.Writer  // the container's stdin (-i), nil without
	// stdinOnce is the write end of the container's stdin, closed when an attach client's
	// stdin ends, for a StdinOnce container; nil without StdinOnce, and with -t, whose
	// terminal stays open (EOF is a key there, Ctrl-D), as docker's.
	stdinOnce io.Closer
	flushed   sync.WaitGroup
	// blockFlushed counts the attachBlock clients still sending: the end waits for them
	// without a bound.
	blockFlushed sync.WaitGroup
	// blockCame is closed once an attachBlock client has joined (awaitStarter).
	blockCame     chan struct{}
	blockCameOnce sync.Once
	// released is closed by an attachRelease hello: attachBlock clients are waited for no
	// longer than others from then on.
	released    chan struct{}
	releaseOnce sync.Once
	// holding, under mu: the strata that started the container attaches (holdForStarter),
	// and has not yet (nor died, nor waited for in vain): the history keeps all the output
	// for its replay, attachStarterMax bytes at most, and once it holds that much the output
	// waits. holdDone is closed once the hold ends (endHold).
	holding  bool
	holdDone chan struct{}
	holdOnce sync.Once
}

// historyChunk is a piece of the history: bytes written to one stream, the history's own.
type historyChunk struct {
	kind byte // frameStdout or frameStderr
	p    []byte
}

// attachClient is one attached client: its connection, and the frames queued for it.
type attachClient struct {
	conn *os.File // a socket; pollable, so its deadlines work
	out  chan []byte
	once sync.Once
	// queued is the bytes of the frames in out and of the one being written; send signals
	// room (capacity 1) each time it has written one.
	queued atomic.Int64
	room   chan struct{}
	block  bool // attachBlock
	stdin  bool // attachStdin
	// lagged: the monitor dropped it for not reading (broadcast). Its leaving then is not
	// its user's, and closes no StdinOnce stdin.
	lagged atomic.Bool
	// gone is closed once the connection has ended (leave): a wait for room in out ends.
	gone     chan struct{}
	goneOnce sync.Once
}

// leave says c's connection has ended: a broadcast waiting for room in its queue drops it.
// Called before drop, which waits for that broadcast.
func (c *attachClient) leave() {
	c.goneOnce.Do(func() { close(c.gone) })
}

// fits says whether a frame of n bytes may be queued for c now.
func (c *attachClient) fits(n int) bool {
	return len(c.out) < cap(c.out) && c.queued.Load()+int64(n) <= attachQueueBytes
}

// queue queues frame for c once it fits: broadcast and finish under the hub's outMu, join
// before c is among the clients.
func (c *attachClient) queue(frame []byte) {
	c.queued.Add(int64(len(frame)))
	c.out <- frame
}

// wait waits for room for a frame of n bytes in c's queue: an attachBlock client's for as
// long as it takes (until released is closed), another's for what is left of stall (what it
// waits is taken from it). False, for c to be dropped, if c left or stall ran out first.
func (c *attachClient) wait(n int, stall *time.Duration, released <-chan struct{}) bool {
	var expired <-chan time.Time // never, for an attachBlock client
	if !c.block {
		if *stall <= 0 {
			return c.fits(n)
		}
		start := time.Now()
		t := time.NewTimer(*stall)
		defer func() {
			t.Stop()
			*stall -= time.Since(start)
		}()
		expired = t.C
	}
	for !c.fits(n) {
		select {
		case <-c.room: // it wrote a frame: look again
		case <-c.gone:
			return false
		case <-expired:
			return c.fits(n)
		case <-released:
			if c.block {
				return c.fits(n)
			}
			released = nil // a stall bound holds for the others already
		}
	}
	return true
}

func newAttachHub() *attachHub {
	return &attachHub{clients: make(map[*attachClient]struct{}), blockCame: make(chan struct{}),
		released: make(chan struct{}), holdDone: make(chan struct{})}
}

// holdForStarter keeps the container's output, from its first byte, for the attach of the
// strata that started it (StartInteractive, StartAttached: an attachBlock client that asks
// for a replay), which comes only once the start is answered: a command that wrote more than
// attachHistoryMax meanwhile (seq 1 200000) was shown from the middle on, where docker's
// CLI, attached before the start, shows all. The output still goes to the log as it comes,
// with its own times; the hub keeps all of it, attachStarterMax bytes at most, and beyond
// that the container's output waits (its pipe fills and it blocks) until the attach has
// joined or the hold has ended (endHold). Called before the container starts.
func (h *attachHub) holdForStarter() {
	h.mu.Lock()
	h.holding = true
	h.mu.Unlock()
}

// endHold ends the hold for the starter's attach, if any: the history is the last
// attachHistoryMax bytes again, and output waiting for room goes on. The starter's attach
// joining ends it; so does the monitor once that strata has died, has not attached within
// attachHello of the start, or an rm -f came (awaitStarter): the output is then kept as for
// any other client, as it was before the hold.
func (h *attachHub) endHold() {
	h.mu.Lock()
	h.endHoldLocked()
	h.mu.Unlock()
}

// endHoldLocked is endHold under mu.
func (h *attachHub) endHoldLocked() {
	if h.holding {
		h.holding = false
		h.trimHistory()
	}
	h.holdOnce.Do(func() { close(h.holdDone) })
}

// heldFull says, under mu, whether a hold for the starter's attach keeps as much output as it
// may: a frame of n bytes more must wait for it to end.
func (h *attachHub) heldFull(n int) bool {
	return h.holding && (h.histLen+n > attachStarterMax || len(h.history) >= attachHistoryChunks)
}

// awaitStarter waits, at the container's end and before the socket goes, for the attach of
// the strata that started it (StartInteractive, StartAttached: an attachBlock client) to have
// joined: limit at most, and while starterAlive says that strata lives. It joins at once
// after the start, normally long before; a container that ended first kept its output and
// exit for it, where its fallback (Wait, then the log) met a restart policy's next run. From
// the start, it bounds the hold of the output for that attach (holdForStarter).
func (h *attachHub) awaitStarter(limit time.Duration, starterAlive func() bool) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for starterAlive() {
		select {
		case <-h.blockCame:
			return
		case <-h.released: // an rm -f: nothing is waited for
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}

// tee returns a writer that writes to w and then sends the same bytes to the clients as
// frames of kind.
func (h *attachHub) tee(kind byte, w io.Writer) io.Writer {
	return &attachTee{hub: h, kind: kind, w: w}
}

type attachTee struct {
	hub  *attachHub
	kind byte
	w    io.Writer
}

// Write never fails: the log's error (a full disk, a file size limit) is dropped, as docker's
// copier drops a message its driver fails to log. Returned, it ended the copy of the
// container's output: its next write failed (EPIPE), or with -t it was hung up.
func (t *attachTee) Write(p []byte) (int, error) {
	_, _ = t.w.Write(p)
	t.hub.broadcast(t.kind, p)
	return len(p), nil
}

// setStdin names the container's stdin, which clients' stdin frames are written to.
func (h *attachHub) setStdin(w io.Writer) {
	h.stdinMu.Lock()
	h.stdin = w
	h.stdinMu.Unlock()
}

// setStdinOnce names the write end of the container's stdin, which a client closes when its
// stdin ends. Called only for a StdinOnce container without a terminal.
func (h *attachHub) setStdinOnce(w io.Closer) {
	h.stdinMu.Lock()
	h.stdinOnce = w
	h.stdinMu.Unlock()
}

// stdinEnded is a client's stdin ending, or a client that attached stdin leaving: the
// container's stdin is closed if it is StdinOnce (setStdinOnce), whichever client it was.
func (h *attachHub) stdinEnded() {
	h.stdinMu.Lock()
	defer h.stdinMu.Unlock()
	if h.stdinOnce != nil {
		_ = h.stdinOnce.Close()
		h.stdinOnce, h.stdin = nil, nil
	}
}

// setTerminal names the container's terminal master, which clients' resize frames size, and
// hangUp, which closes it (frameHangUp).
func (h *attachHub) setTerminal(master *os.File, hangUp func()) {
	h.mu.Lock()
	h.pty, h.hangUp = master, hangUp
	h.mu.Unlock()
}

// hangUpTerminal hangs the container's terminal up, if it has one: its master is closed, the
// container gets SIGHUP and its next write to the terminal fails, as when a foreground run
// -t's output takes no more. Its output's copy then ends, and the container's next
// terminal, after a restart, is its own.
func (h *attachHub) hangUpTerminal() {
	h.mu.Lock()
	defer h.mu.Unlock() // a resize uses the master under it: none once it is closed
	if h.hangUp != nil {
		h.hangUp()
		h.pty, h.hangUp = nil, nil
	}
}

// broadcast queues p, as a frame of kind, for every client. A client whose queue stays full
// (attachQueue frames or attachQueueBytes) for attachStall is dropped: a stalled `strata
// attach` must not stall the container. The wait is one for the write, however many clients
// stall: each waiting its own attachStall in turn, 32 clients that never read held the
// container up for a minute. An attachBlock client's full queue is waited for until it has
// room or the client has gone, without counting against that attachStall: the container
// waits for it as for a foreground run's user, and a stalled `strata attach` beside it is
// dropped all the same.
func (h *attachHub) broadcast(kind byte, p []byte) {
	if len(p) == 0 {
		return
	}
	h.outMu.Lock()
	defer h.outMu.Unlock()
	stall := attachStall // what the clients that may be dropped have left to hold the write up
	var full []*attachClient
	for len(p) > 0 {
		n := min(len(p), attachFrameMax)
		frame := appendFrame(make([]byte, 0, 5+n), kind, p[:n])
		full = full[:0]
		h.mu.Lock()
		for h.heldFull(n) {
			// The starter's attach has not joined, and the output kept for it is all it may
			// be: the container's output waits (the copy of its pipe does). Its end comes
			// within attachHello of the start, or with the monitor's end.
			h.mu.Unlock()
			<-h.holdDone
			h.mu.Lock()
		}
		h.remember(kind, p[:n])
		for c := range h.clients {
			if c.fits(len(frame)) {
				c.queue(frame)
				continue
			}
			full = append(full, c)
		}
		h.mu.Unlock()
		p = p[n:]
		// Waited for without mu: no one else sends to or closes a queue without outMu.
		for _, c := range full {
			if c.wait(len(frame), &stall, h.released) {
				c.queue(frame)
				continue
			}
			c.lagged.Store(true)
			h.mu.Lock()
			h.dropLocked(c)
			h.mu.Unlock()
		}
	}
}

// remember keeps p, written to stream kind, for replays: in the last chunk when that is of
// the same stream and p fits in attachHistoryChunk with it, else in a new one. The oldest
// bytes beyond attachHistoryMax, and the oldest chunks beyond attachHistoryChunks, are
// forgotten.
func (h *attachHub) remember(kind byte, p []byte) {
	if n := len(h.history); n > 0 && h.history[n-1].kind == kind && len(h.history[n-1].p)+len(p) <= attachHistoryChunk {
		h.history[n-1].p = append(h.history[n-1].p, p...)
	} else {
		h.history = append(h.history, historyChunk{kind: kind, p: slices.Clone(p)})
	}
	h.histLen += len(p)
	if !h.holding {
		h.trimHistory()
	}
}

// trimHistory forgets, under mu, the oldest bytes beyond attachHistoryMax and the oldest
// chunks beyond attachHistoryChunks.
func (h *attachHub) trimHistory() {
	for len(h.history) > attachHistoryChunks {
		h.histLen -= len(h.history[0].p)
		h.history[0] = historyChunk{}
		h.history = h.history[1:]
	}
	for h.histLen > attachHistoryMax {
		oldest := &h.history[0]
		if cut := h.histLen - attachHistoryMax; cut < len(oldest.p) {
			oldest.p = oldest.p[cut:]
			h.histLen -= cut
			break
		}
		h.histLen -= len(oldest.p)
		h.history[0] = historyChunk{}
		h.history = h.history[1:]
	}
}

// replay is the last max bytes of the history as frames: consecutive chunks of a stream in
// one, up to attachFrameMax bytes; attachHistoryChunks frames at most.
func (h *attachHub) replay(max int) [][]byte {
	var frames [][]byte
	var lastKind byte
	skip := h.histLen - max
	for _, c := range h.history {
		p := c.p
		if skip > 0 {
			cut := min(skip, len(p))
			p, skip = p[cut:], skip-cut
			if len(p) == 0 {
				continue
			}
		}
		if last := len(frames) - 1; last >= 0 && lastKind == c.kind && len(frames[last])-5+len(p) <= attachFrameMax {
			frames[last] = append(frames[last], p...)
			binary.BigEndian.PutUint32(frames[last][1:5], uint32(len(frames[last])-5))
			continue
		}
		frames = append(frames, appendFrame(nil, c.kind, p))
		lastKind = c.kind
	}
	return frames
}

// listen makes the socket in the container's dir and serves clients until finish. The path
// goes through the dir's fd, so that a long --root does not exceed a socket path's 108 bytes.
func (h *attachHub) listen(dir string) error {
	d, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	// A socket an earlier monitor of this container left (a stop, then a start).
	if err := unix.Unlinkat(int(d.Fd()), attachSocket, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	// Made under another name, made 0600, then renamed: its mode is not set through the
	// umask, which is the process's (an init cloned meanwhile would take it), and no client
	// reaches it before.
	tmp := fmt.Sprintf(".%s-%d", attachSocket, os.Getpid())
	_ = unix.Unlinkat(int(d.Fd()), tmp, 0)
	ln, err := listenUnix(fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), tmp))
	if err != nil {
		return err
	}
	if err := unix.Fchmodat(int(d.Fd()), tmp, 0o600, 0); err == nil {
		err = unix.Renameat(int(d.Fd()), tmp, int(d.Fd()), attachSocket)
	}
	if err != nil {
		ln.Close()
		_ = unix.Unlinkat(int(d.Fd()), tmp, 0)
		return err
	}
	h.mu.Lock()
	h.ln = ln
	h.mu.Unlock()
	go h.accept(ln)
	return nil
}

func (h *attachHub) accept(ln *os.File) {
	for {
		conn, err := acceptUnix(ln)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and the like: let it pass
			continue
		}
		go h.join(conn)
	}
}

// join reads conn's hello and makes it a client: the replay it asks for queued first, under
// the lock broadcast takes, so that it gets each frame once and in order.
func (h *attachHub) join(conn *os.File) {
	var hello [6]byte
	_ = conn.SetReadDeadline(time.Now().Add(attachHello))
	_, err := io.ReadFull(conn, hello[:])
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil || hello[0] != frameHello || binary.BigEndian.Uint32(hello[1:5]) != 1 {
		conn.Close()
		return
	}
	if hello[5]&attachRelease != 0 {
		h.releaseOnce.Do(func() { close(h.released) })
		conn.Close()
		return
	}
	h.mu.Lock()
	if h.ended || len(h.clients) >= attachClientsMax {
		full := !h.ended
		h.mu.Unlock()
		if full {
			// Said, or the client would wait for the container's end showing nothing.
			_ = conn.SetWriteDeadline(time.Now().Add(attachFlush))
			_, _ = conn.Write(appendFrame(nil, frameRefuse, fmt.Appendf(nil, "%d clients are attached already, the most a container serves", attachClientsMax)))
		}
		conn.Close()
		return
	}
	block := hello[5]&attachBlock != 0 && !h.isReleased()
	// attachHistoryMax bytes in attachHistoryChunks frames at most; for the starter's attach,
	// all that a hold for it kept (attachStarterMax), which its joining ends.
	var replay [][]byte
	if hello[5]&attachReplay != 0 {
		max := attachHistoryMax
		if block {
			max = h.histLen
		}
		replay = h.replay(max)
	}
	if block {
		h.endHoldLocked()
	}
	c := &attachClient{conn: conn, out: make(chan []byte, attachQueue+len(replay)), room: make(chan struct{}, 1),
		block: block, stdin: hello[5]&attachStdin != 0, gone: make(chan struct{})}
	for _, frame := range replay {
		c.queue(frame)
	}
	h.clients[c] = struct{}{}
	h.flushed.Add(1)
	if c.block {
		h.blockFlushed.Add(1)
		h.blockCameOnce.Do(func() { close(h.blockCame) })
	}
	h.mu.Unlock()
	go h.send(c)
	h.receive(c)
}

// send writes c's queued frames to it until the queue is closed (the end, or c dropped).
func (h *attachHub) send(c *attachClient) {
	defer h.flushed.Done()
	if c.block {
		defer h.blockFlushed.Done()
	}
	defer c.conn.Close()
	for frame := range c.out {
		_, err := c.conn.Write(frame)
		c.queued.Add(-int64(len(frame)))
		select {
		case c.room <- struct{}{}:
		default: // signalled already
		}
		if err != nil {
			c.leave()
			h.drop(c)
			for range c.out { // drained, so that broadcast never blocks on it
			}
			return
		}
	}
}

// receive reads c's frames: stdin for the container, resizes for its terminal. It drops c
// when its connection ends (what is queued is still sent until then) or breaks the protocol.
func (h *attachHub) receive(c *attachClient) {
	defer func() {
		c.leave()
		h.drop(c)
		if c.stdin && !c.lagged.Load() {
			h.stdinEnded()
		}
	}()
	var hdr [5]byte
	var buf []byte // as big as the biggest frame yet: keystrokes and resizes are a few bytes
	for {
		if _, err := io.ReadFull(c.conn, hdr[:]); err != nil {
			return // the client left
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if n > attachFrameMax {
			return
		}
		if int(n) > len(buf) {
			buf = make([]byte, n)
		}
		if _, err := io.ReadFull(c.conn, buf[:n]); err != nil {
			return
		}
		switch hdr[0] {
		case frameStdin:
			if n == 0 {
				h.stdinEnded()
				continue
			}
			h.stdinMu.Lock()
			if h.stdin != nil {
				_, _ = h.stdin.Write(buf[:n])
			}
			h.stdinMu.Unlock()
		case frameResize:
			if n == 4 {
				h.resize(binary.BigEndian.Uint16(buf[0:]), binary.BigEndian.Uint16(buf[2:]))
			}
		case frameHangUp:
			h.hangUpTerminal()
		default:
			return
		}
	}
}

func (h *attachHub) resize(rows, cols uint16) {
	h.mu.Lock()
	defer h.mu.Unlock() // not beside hangUpTerminal's close: an os.File's Fd races with it
	if h.pty != nil && rows > 0 && cols > 0 {
		_ = setWinsize(h.pty, rows, cols)
	}
}

// drop ends c: its queue is closed (send writes what is in it, then closes the connection).
// It waits for a broadcast under way: one waiting for room in c's queue, c.leave ends.
func (h *attachHub) drop(c *attachClient) {
	h.outMu.Lock()
	defer h.outMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(c)
}

// dropLocked, under outMu and mu, ends c, and bounds the write of what is left in its queue.
func (h *attachHub) dropLocked(c *attachClient) {
	if h.closeLocked(c) {
		// A client that does not read would hold send's Write: unblocked by a deadline.
		_ = c.conn.SetWriteDeadline(time.Now().Add(attachFlush))
	}
}

// closeLocked, under outMu and mu, removes c and closes its queue: send writes what is in
// it, then closes the connection. False if c was gone already.
func (h *attachHub) closeLocked(c *attachClient) bool {
	if _, ok := h.clients[c]; !ok {
		return false
	}
	delete(h.clients, c)
	c.once.Do(func() { close(c.out) })
	return true
}

// isReleased says whether an attachRelease hello came.
func (h *attachHub) isReleased() bool {
	select {
	case <-h.released:
		return true
	default:
		return false
	}
}

// finish tells every client the container ended with code, stops taking clients, removes
// the socket, and waits (attachFlush at most) for the clients to take their last frames.
// An attachBlock client is waited for until it has taken them all, the exit too, or gone:
// its user sees the whole output, however long they left it unread.
func (h *attachHub) finish(dir string, code int) {
	h.stopListening(dir)
	var exit [4]byte
	binary.BigEndian.PutUint32(exit[:], uint32(int32(code)))
	frame := appendFrame(nil, frameExit, exit[:])
	h.outMu.Lock()
	h.mu.Lock()
	var blocking []*attachClient
	for c := range h.clients {
		if c.block && !h.isReleased() {
			blocking = append(blocking, c)
			continue
		}
		if len(c.out) < cap(c.out) { // only this sends to it now, under outMu
			c.queue(frame)
		}
		h.dropLocked(c)
	}
	h.mu.Unlock()
	for _, c := range blocking {
		if c.wait(len(frame), nil, nil) {
			c.queue(frame)
		}
		h.mu.Lock()
		h.closeLocked(c)
		h.mu.Unlock()
	}
	h.outMu.Unlock()
	h.blockFlushed.Wait()
	done := make(chan struct{})
	go func() {
		h.flushed.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(attachFlush):
	}
}

// The socket calls are x/sys/unix's, not package net's: net would make every binary that
// links runner (the helper, the tests) a cgo one, dynamically linked, which cannot run in a
// container's root. The sockets are non-blocking, so the os.Files are pollable: reads,
// writes and accepts wait in the runtime's poller, and deadlines and Close work.

// listenUnix makes a listening unix stream socket at path.
func listenUnix(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Listen(fd, attachClientsMax); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "attach"), nil
}

// acceptUnix waits for and accepts a connection on ln; os.ErrClosed once ln is closed.
func acceptUnix(ln *os.File) (*os.File, error) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	var aerr error
	err = rc.Read(func(fd uintptr) bool {
		nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		return !errors.Is(aerr, unix.EAGAIN)
	})
	if err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, aerr
	}
	return os.NewFile(uintptr(nfd), "attach-client"), nil
}

// dialUnix connects to the unix stream socket at path.
func dialUnix(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err == nil {
		err = unix.SetNonblock(fd, true) // after the connect, which may wait for the backlog
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "attach"), nil
}

// stopListening stops taking clients and removes the socket. The monitor calls it once the
// container has ended, before the exit is recorded: the record lets the next start in, whose
// monitor makes its socket at the same path, and a removal after would take that one away
// (and a client coming then would reach this monitor, not the start it asked for).
func (h *attachHub) stopListening(dir string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = true
	if h.ln != nil {
		h.ln.Close()
		h.ln = nil
		_ = os.Remove(dir + "/" + attachSocket)
	}
}

// appendFrame appends the frame of kind with payload p to b.
func appendFrame(b []byte, kind byte, p []byte) []byte {
	b = append(b, kind, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[len(b)-4:], uint32(len(p)))
	return append(b, p...)
}
