package progress

import (
	"fmt"
	"strings"

	"github.com/strata-run/strata/cache"
)

// ANSI sequences for redrawing in place: cursor up n lines, erase the whole line.
const (
	cursorUp  = "\x1b[%dA"
	eraseLine = "\x1b[2K"
	barWidth  = 25
)

// redraw moves the cursor back over the lines drawn last time and draws one line per layer.
// It writes one string per redraw so that a terminal never shows half a frame.
func (r *Renderer) redraw() {
	var b strings.Builder
	if r.drawn > 0 {
		fmt.Fprintf(&b, cursorUp, r.drawn)
	}
	for _, l := range r.layers {
		line := cutRunes(l.id+": "+r.ttyStatus(l), r.width-1)
		b.WriteString("\r" + eraseLine + line + "\n")
	}
	r.drawn = len(r.layers)
	r.w.Write([]byte(b.String()))
}

// cutRunes cuts s to at most n characters, never inside a UTF-8 sequence: an error text with
// non-ASCII names cut by bytes left half a character on the terminal.
func cutRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	i := 0
	for at := range s {
		if i == n {
			return s[:at]
		}
		i++
	}
	return s
}

// ttyStatus is a layer's line: a bar with sizes and rate while downloading, the plain-mode
// text otherwise.
func (r *Renderer) ttyStatus(l *layer) string {
	e := cache.Event{Kind: l.kind, Current: l.current, Total: l.total, Err: l.err}
	if l.kind != cache.Downloading && l.kind != cache.Resuming {
		return status(l, e)
	}
	s := "Downloading " + bar(l.current, l.total) + " " + HumanSize(l.current) + "/" + HumanSize(l.total)
	if elapsed := r.now().Sub(l.start).Seconds(); elapsed > 0 && l.current > l.startBytes {
		s += " " + HumanSize(int64(float64(l.current-l.startBytes)/elapsed)) + "/s"
	}
	return s
}

// bar draws docker's [=====>     ] for current of total.
func bar(current, total int64) string {
	n := 0
	if total > 0 {
		n = int(float64(barWidth) * float64(min(current, total)) / float64(total))
	}
	switch {
	case n >= barWidth:
		return "[" + strings.Repeat("=", barWidth) + "]"
	case n > 0:
		return "[" + strings.Repeat("=", n-1) + ">" + strings.Repeat(" ", barWidth-n) + "]"
	}
	return "[" + strings.Repeat(" ", barWidth) + "]"
}
