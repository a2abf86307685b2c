// Package progress renders cache.Events for `strata pull` the way docker does: redrawn bars on
// a terminal, one line per state change in logs, or JSON lines for programs. cmd owns the
// output stream and hands it to New; this package only writes to it.
//
// Terms: a layer is one blob being written, named by the first 12 hex digits of its digest;
// a state change is an Event whose Kind differs from the layer's previous one (repeated
// Downloading events only move the bar).
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/strata-run/strata/cache"
)

// Modes New accepts. Auto picks TTY when the writer is a terminal and Plain otherwise, as
// docker picks its output for `docker pull`.
const (
	Auto  = "auto"
	TTY   = "tty"
	Plain = "plain"
	JSON  = "json"
	Quiet = "quiet"
)

// CheckMode returns an error for a mode New does not know, for validating a --progress flag.
func CheckMode(mode string) error {
	switch mode {
	case Auto, TTY, Plain, JSON, Quiet, "":
		return nil
	}
	return fmt.Errorf("unknown progress mode %q (want auto, tty, plain, json or quiet)", mode)
}

// Renderer writes Events to one stream. Its methods are safe for concurrent use: cache calls
// Event from one goroutine per layer.
type Renderer struct {
	mu     sync.Mutex
	w      io.Writer
	mode   string
	closed bool
	// now is time.Now, replaced in tests so the transfer rate is deterministic.
	now func() time.Time
	// width is the terminal width for TTY mode; lines are cut to it so redraws stay aligned.
	width int

	layers []*layer          // in order of first event, the order lines are drawn
	byHex  map[string]*layer // the same layers by digest hex
	drawn  int               // lines drawn last time in TTY mode, to move the cursor back up
}

// layer is what the renderer remembers about one blob.
type layer struct {
	id        string // 12 hex digits
	kind      cache.EventKind
	seen      bool // any event yet; kind is valid
	extracted bool // went through Extracting, so Done means "Pull complete"
	current   int64
	total     int64
	err       error
	// start and startBytes anchor the rate: bytes downloaded since the download (re)started
	// over the time since then.
	start      time.Time
	startBytes int64
}

// New returns a Renderer writing to w in mode (Auto, TTY, Plain, JSON or Quiet; anything else
// is treated as Auto).
func New(w io.Writer, mode string) *Renderer {
	r := &Renderer{w: w, mode: mode, now: time.Now, width: 80, byHex: map[string]*layer{}}
	f, isFile := w.(*os.File)
	isTerm := isFile && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
	switch mode {
	case TTY, Plain, JSON, Quiet:
	default:
		r.mode = Plain
		if isTerm {
			r.mode = TTY
		}
	}
	if isTerm {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			r.width = cols
		}
	}
	return r
}

// Mode returns the mode in effect after Auto was resolved.
func (r *Renderer) Mode() string { return r.mode }

// Event renders one event. It is meant to be passed as cache.WriteOptions.Progress.
func (r *Renderer) Event(e cache.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.mode == Quiet {
		return
	}
	l, changed := r.update(e)
	switch r.mode {
	case JSON:
		r.writeJSON(e)
	case TTY:
		r.redraw()
	default:
		if changed {
			r.writePlain(l, e)
		}
	}
}

// update records e in its layer and returns the layer and whether this is a state change
// (a new kind, or another Resuming, which always has news).
func (r *Renderer) update(e cache.Event) (l *layer, changed bool) {
	hex := e.Digest.Hex
	l, ok := r.byHex[hex]
	if !ok {
		l = &layer{id: shortID(hex)}
		r.byHex[hex] = l
		r.layers = append(r.layers, l)
	}
	now := r.now()
	if (e.Kind == cache.Downloading || e.Kind == cache.Resuming) && (l.start.IsZero() || e.Kind == cache.Resuming) {
		l.start, l.startBytes = now, e.Current
	}
	if e.Kind == cache.Extracting {
		l.extracted = true
	}
	changed = !l.seen || l.kind != e.Kind || e.Kind == cache.Resuming
	l.seen, l.kind = true, e.Kind
	l.current, l.total, l.err = e.Current, e.Total, e.Err
	return l, changed
}

// Close finishes the output: in TTY mode the bars are drawn a last time. Events after Close
// are dropped. Close is safe to call more than once.
func (r *Renderer) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.mode == TTY {
		r.redraw()
	}
	return nil
}

func shortID(hex string) string {
	if len(hex) > 12 {
		return hex[:12]
	}
	return hex
}

// HumanSize formats bytes with decimal units, one decimal, as docker's progress does
// ("12.3MB"): transfer sizes are decimal, unlike memory sizes.
func HumanSize(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%dB", n)
	}
	units := []string{"kB", "MB", "GB", "TB", "PB", "EB"}
	v := float64(n) / 1000
	i := 0
	for v >= 999.95 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return fmt.Sprintf("%.1f%s", v, units[i])
}

// oneLine keeps an error message on one line, since hostile servers control parts of it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
