package main

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/events"
	"github.com/strata-run/strata/internal/logger"
)

// oneLineErr fails t when err, the answer to a value a user gave, is not one short line. A
// template's error may name what the template itself says (a field, twice: "at <.F>: no
// field F"), so it may grow with in, but no faster.
func oneLineErr(t *testing.T, what string, in string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || len(msg) > 4096+3*len(in) {
		t.Errorf("%s(%.100q) error is not one short line: %.300q (%d bytes)", what, in, msg, len(msg))
	}
}

// FuzzFormat runs hostile --format and --log-opt tag templates over ps rows and events: each
// renders or fails in one line, within the limits of format_limits.go (here lowered, so an
// input runs fast), and never panics, spins or takes memory past those limits.
func FuzzFormat(f *testing.F) {
	for _, s := range []string{
		"table {{.ID}}\t{{.Names}}", "{{json .}}", "{{.Label \"a\"}}", "{{range $i, $e := split .Names \",\"}}{{$e}}{{end}}",
		"{{pad .Names 3 4}}{{truncate .ID 3}}{{upper .Image}}{{title .Status}}", "{{define \"x\"}}{{template \"x\" .}}{{end}}{{template \"x\" .}}",
		"{{range 5}}{{.}}{{end}}", "{{printf \"%*d\" 1000 1}}", "{{.Actor.Attributes.name}} {{.Action}}", "{{html (js (print .))}}",
		"{{with $x := \"a\"}}{{$x = printf \"%s%s\" $x $x}}{{end}}", "tablefoo", "{{index .Actor.Attributes \"k\"}}", "\\t{{.}}\\n",
	} {
		f.Add(s)
	}
	defer func(t time.Duration, v, m int) { maxFormatTime, maxFormatValue, maxFormatMade = t, v, m }(maxFormatTime, maxFormatValue, maxFormatMade)
	maxFormatTime, maxFormatValue, maxFormatMade = time.Second, 1<<20, 4<<20
	rows := []psRow{{ID: strings.Repeat("a", 64), Image: "alpine", Names: "web,db", Status: "up", labels: map[string]string{"a": "b"}}}
	msgs := []events.Message{events.New(events.Container, "start", strings.Repeat("b", 64), map[string]string{"name": "web", "k": "v"})}
	info := logger.Info{ContainerID: strings.Repeat("c", 64), ContainerName: "/web", ContainerImageName: "alpine"}
	f.Fuzz(func(t *testing.T, format string) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, _, err := renderTemplate(format, rows)
		oneLineErr(t, "renderTemplate ps", format, err)
		_, _, err = renderTemplate(format, msgs)
		oneLineErr(t, "renderTemplate events", format, err)
		_, err = renderLogTag(format, &info, 4096)
		oneLineErr(t, "renderLogTag", format, err)
		runtime.ReadMemStats(&after)
		// Three renderings, each bounded by its output, its strings made and its time; the
		// margin is for what text/template and fmt make besides.
		if made := after.TotalAlloc - before.TotalAlloc; made > 3*uint64(maxFormatOutput+maxFormatMade)+64<<20 {
			t.Errorf("%q made %d MiB", format, made>>20)
		}
		if d := time.Since(start); d > 3*maxFormatTime+20*time.Second {
			t.Errorf("%q ran %v", format, d)
		}
	})
}

// FuzzFilterValues feeds hostile --filter, --since and --until values to their parsers:
// a filter or a one-line error, never a panic.
func FuzzFilterValues(f *testing.F) {
	for _, s := range []string{
		"type=container", "event=start", "label=a=b", "label!=a", "name=^web.*$", "status=running", "until=10m",
		"until=2006-01-02T15:04:05Z", "dangling=true", "before=alpine", "health=healthy", "publish=80/tcp",
		"expose=1-65535", "volume=/data", "ancestor=alpine:3", "1700000000.5", "-10s", "2024-01-02T15Z", "0", "x=",
	} {
		f.Add(s)
	}
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, s string) {
		_, err := parseEventFilter([]string{s})
		oneLineErr(t, "parseEventFilter", s, err)
		_, err = parsePsFilter([]string{s})
		oneLineErr(t, "parsePsFilter", s, err)
		_, err = pruneFilter([]string{s}, now)
		oneLineErr(t, "pruneFilter", s, err)
		_, err = parseContainerPruneFilter([]string{s}, now)
		oneLineErr(t, "parseContainerPruneFilter", s, err)
		for _, flag := range []string{"--since", "--until"} {
			_, err = parseLogTime(flag, s, now)
			oneLineErr(t, "parseLogTime", s, err)
		}
		_ = parseTail(s)
	})
}
