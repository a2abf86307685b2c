package runner

import (
	"os"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// signalCatcher is what a run or exec reads the signals strata gets from, to pass them on.
type signalCatcher struct {
	c     chan os.Signal
	ready chan struct{} // closed once forwardedSignals are caught
}

// relay catches forwardedSignals for the whole process, once, and hands each to the catchers
// there are. Catching a signal and restoring its default are each a round trip to the
// runtime's signal thread: ~0.5 ms of CPU to catch them all (made in the background), and
// restoring them when a run ended cost ~0.7 ms of its cleanup (paired runs, 2026-11-30). So
// the catch stays when the last catcher goes; the defaults come back only when a signal
// arrives with nobody to take it, and that signal is then raised again to act as it would
// have (or reach the CLI's own catch of SIGINT and SIGTERM).
var relay struct {
	mu       sync.Mutex
	in       chan os.Signal // nil when forwardedSignals are not caught
	caught   chan struct{}
	catchers map[*signalCatcher]struct{}
}

// catchSignals starts passing the forwarded signals strata gets to a new catcher; its stop
// ends that.
func catchSignals() *signalCatcher {
	s := &signalCatcher{c: make(chan os.Signal, 32)}
	relay.mu.Lock()
	defer relay.mu.Unlock()
	if relay.in == nil {
		relay.in = make(chan os.Signal, 32)
		relay.caught = make(chan struct{})
		go relayFrom(relay.in, relay.caught)
	}
	if relay.catchers == nil {
		relay.catchers = make(map[*signalCatcher]struct{})
	}
	relay.catchers[s] = struct{}{}
	s.ready = relay.caught
	return s
}

// stop ends s's share of the signals; s.c, abandoned, takes at most its buffer's worth.
func (s *signalCatcher) stop() {
	relay.mu.Lock()
	delete(relay.catchers, s)
	relay.mu.Unlock()
}

// relayFrom catches the forwarded signals into in and passes each on, until one comes that
// no catcher takes: then it restores their defaults and raises that signal (and any caught
// behind it) again.
func relayFrom(in chan os.Signal, caught chan struct{}) {
	signal.Notify(in, forwardedSignals...)
	close(caught)
	for sig := range in {
		relay.mu.Lock()
		if len(relay.catchers) > 0 {
			for s := range relay.catchers {
				select {
				case s.c <- sig:
				default:
				}
			}
			relay.mu.Unlock()
			continue
		}
		signal.Stop(in)
		relay.in = nil
		relay.mu.Unlock()
		reraise(sig)
		for len(in) > 0 {
			reraise(<-in)
		}
		return
	}
}

// reraise sends sig to this process again, now that it is not caught for a run: it does
// what it would have done (end or stop strata) unless strata catches it itself. SIGPIPE
// came from a write that has failed already, and the others ignored by default need nothing.
func reraise(sig os.Signal) {
	switch sig {
	case unix.SIGPIPE, unix.SIGWINCH, unix.SIGCONT, unix.SIGURG, unix.SIGCHLD:
		return
	}
	if s, ok := sig.(unix.Signal); ok {
		_ = unix.Kill(os.Getpid(), s)
	}
}
