package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/events"
)

func ev(typ, action, id string, attrs map[string]string, at time.Time) events.Message {
	m := events.New(typ, action, id, attrs)
	m.Time, m.TimeNano = at.Unix(), at.UnixNano()
	return m
}

func TestEventLine(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 5, time.Local)
	m := ev(events.Container, "die", "abc", map[string]string{"name": "x", "image": "alpine", "exitCode": "3"}, at)
	want := at.Format("2006-01-02T15:04:05.000000000Z07:00") + " container die abc (exitCode=3, image=alpine, name=x)"
	if got := eventLine(m); got != want {
		t.Errorf("eventLine = %q, want %q", got, want)
	}
	m = ev(events.Image, "pull", "alpine:latest", nil, at)
	if got := eventLine(m); !strings.HasSuffix(got, " image pull alpine:latest") {
		t.Errorf("eventLine without attributes = %q", got)
	}
	// What another process wrote reaches no terminal raw.
	m = ev(events.Container, "start", "a", map[string]string{"name": "\x1b[2J"}, at)
	if got := eventLine(m); strings.Contains(got, "\x1b") {
		t.Errorf("eventLine kept an escape: %q", got)
	}
}

func TestEventFilter(t *testing.T) {
	now := time.Now()
	die := ev(events.Container, "die", "0123456789ab", map[string]string{"name": "web", "image": "alpine:3.20", "com.x": "1"}, now)
	exec := ev(events.Container, "exec_create: ls", "0123456789ab", map[string]string{"name": "web", "image": "alpine"}, now)
	pull := ev(events.Image, "pull", "alpine:latest", map[string]string{"name": "alpine"}, now)
	tag := ev(events.Image, "tag", "sha256:aa", map[string]string{"name": "my/img:1"}, now)
	for _, c := range []struct {
		filters []string
		m       events.Message
		want    bool
	}{
		{nil, die, true},
		{[]string{"type=container"}, die, true},
		{[]string{"type=image"}, die, false},
		{[]string{"type=image", "type=container"}, die, true},
		{[]string{"event=die"}, die, true},
		{[]string{"event=start"}, die, false},
		{[]string{"event=exec_create"}, exec, true},
		{[]string{"container=web"}, die, true},
		{[]string{"container=0123"}, die, true},
		{[]string{"container=we"}, die, false},
		{[]string{"container=web"}, pull, false},
		{[]string{"image=alpine"}, die, true},
		{[]string{"image=alpine:3.20"}, die, true},
		{[]string{"image=alpine"}, pull, true},
		{[]string{"image=alpine:latest"}, pull, true},
		{[]string{"image=my/img"}, tag, true},
		{[]string{"image=sha256:aa"}, tag, true},
		{[]string{"image=busybox"}, pull, false},
		{[]string{"label=com.x"}, die, true},
		{[]string{"label=com.x=2"}, die, false},
		// Every label= must match, as docker's MatchKVList: they are not alternatives.
		{[]string{"label=com.x", "label=com.y"}, die, false},
		{[]string{"label=com.x=2", "label=com.x=1"}, die, false},
		{[]string{"label=com.x=1", "label=name=web"}, die, true},
		{[]string{"type=container", "event=die", "container=web"}, die, true},
		{[]string{"type=container", "event=die", "container=db"}, die, false},
	} {
		f, err := parseEventFilter(c.filters)
		if err != nil {
			t.Fatalf("parseEventFilter(%q) = %v", c.filters, err)
		}
		if got := f.match(c.m); got != c.want {
			t.Errorf("filter %q on %s %s = %v, want %v", c.filters, c.m.Type, c.m.Action, got, c.want)
		}
	}
	for _, bad := range []string{"bogus=1", "type=network", "noequals", "=x"} {
		if _, err := parseEventFilter([]string{bad}); err == nil || !strings.Contains(err.Error(), "--filter") {
			t.Errorf("parseEventFilter(%q) = %v, want a --filter error", bad, err)
		}
	}
}

// TestRunEventsWindow: --since and --until bound the events read from the log, the rotated
// generation first; --until in the past returns at once.
func TestRunEventsWindow(t *testing.T) {
	root := t.TempDir()
	g := &globals{root: root}
	base := time.Now().Add(-time.Hour)
	write := func(name string, ms ...events.Message) {
		var b bytes.Buffer
		for _, m := range ms {
			line, _ := jsonLine(m)
			b.Write(line)
		}
		if err := writeFileForTest(root+"/"+name, b.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	write(events.Rotated, ev(events.Image, "pull", "a", nil, base))
	write(events.File, ev(events.Image, "tag", "b", nil, base.Add(time.Minute)), ev(events.Image, "untag", "c", nil, base.Add(2*time.Minute)))
	for _, c := range []struct {
		since, until, want string
	}{
		{"0", "0s", "pull a\ntag b\nuntag c\n"},
		{base.Add(30 * time.Second).Format(time.RFC3339Nano), "0s", "tag b\nuntag c\n"},
		{"0", base.Add(90 * time.Second).Format(time.RFC3339Nano), "pull a\ntag b\n"},
		{"2h", "59m", "pull a\ntag b\n"}, // c is 58m ago
		{"1", base.Add(-time.Second).Format(time.RFC3339Nano), ""},
	} {
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() {
			done <- runEvents(context.Background(), g, eventsOptions{since: c.since, until: c.until, format: "{{.Action}} {{.Actor.ID}}"}, time.Now(), &out)
		}()
		select {
		case err := <-done:
			if err != nil || out.String() != c.want {
				t.Errorf("events --since %s --until %s = %q, %v; want %q", c.since, c.until, out.String(), err, c.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("events --since %s --until %s did not return", c.since, c.until)
		}
	}
	for _, o := range []eventsOptions{{since: "yesterday"}, {until: "x"}, {since: "0s", until: "1h"}, {format: "{{.Bogus"}} {
		if err := runEvents(context.Background(), g, o, time.Now(), &bytes.Buffer{}); err == nil {
			t.Errorf("runEvents(%+v) = nil, want an error", o)
		}
	}
}

func jsonLine(m events.Message) ([]byte, error) {
	b, err := json.Marshal(m)
	return append(b, '\n'), err
}

func writeFileForTest(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }

// TestRunEventsDamagedRotated: a rotated log that is a symlink, a FIFO or a directory (a
// damaged store) is skipped with one warning, never followed nor waited on, and the current
// log's events are still shown.
func TestRunEventsDamagedRotated(t *testing.T) {
	base := time.Now().Add(-time.Hour)
	for _, kind := range []string{"symlink", "fifo", "dir"} {
		root := t.TempDir()
		line, _ := jsonLine(ev(events.Image, "tag", "b", nil, base))
		if err := writeFileForTest(filepath.Join(root, events.File), line); err != nil {
			t.Fatal(err)
		}
		rotated := filepath.Join(root, events.Rotated)
		var err error
		switch kind {
		case "symlink":
			target := filepath.Join(t.TempDir(), "elsewhere")
			other, _ := jsonLine(ev(events.Image, "pull", "secret", nil, base))
			if err = writeFileForTest(target, other); err == nil {
				err = os.Symlink(target, rotated)
			}
		case "fifo":
			err = syscall.Mkfifo(rotated, 0o600)
		case "dir":
			err = os.Mkdir(rotated, 0o700)
		}
		if err != nil {
			t.Fatal(err)
		}
		errF, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		done := make(chan error, 1)
		oldErr := os.Stderr
		os.Stderr = errF
		go func() {
			done <- runEvents(context.Background(), &globals{root: root}, eventsOptions{since: "0", until: "0s", format: "{{.Action}} {{.Actor.ID}}"}, time.Now(), &out)
		}()
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			os.Stderr = oldErr
			t.Fatalf("%s: events --since 0 did not return", kind)
		}
		os.Stderr = oldErr
		errF.Close()
		warn, _ := os.ReadFile(errF.Name())
		if err != nil || out.String() != "tag b\n" {
			t.Errorf("%s: events --since 0 = %q, %v; want %q", kind, out.String(), err, "tag b\n")
		}
		if n := strings.Count(string(warn), "\n"); n != 1 || !strings.Contains(string(warn), events.Rotated) || !strings.Contains(string(warn), "warning") {
			t.Errorf("%s: stderr = %q, want one warning naming %s", kind, warn, events.Rotated)
		}
	}
}

// TestRunEventsDamagedCurrent: a current log that is a symlink, a FIFO or a directory (a
// damaged store) is skipped with one warning, never followed nor waited on, as a damaged
// rotated one is, and the rotated log's events are still shown; events failed with "reading
// events: ... not a regular file". Followed (--until ahead), it is warned about once, not at
// every poll.
func TestRunEventsDamagedCurrent(t *testing.T) {
	base := time.Now().Add(-time.Hour)
	for _, kind := range []string{"symlink", "fifo", "dir"} {
		for _, follow := range []bool{false, true} {
			root := t.TempDir()
			line, _ := jsonLine(ev(events.Image, "pull", "a", nil, base))
			if err := writeFileForTest(filepath.Join(root, events.Rotated), line); err != nil {
				t.Fatal(err)
			}
			current := filepath.Join(root, events.File)
			var err error
			switch kind {
			case "symlink":
				target := filepath.Join(t.TempDir(), "elsewhere")
				other, _ := jsonLine(ev(events.Image, "pull", "secret", nil, base))
				if err = writeFileForTest(target, other); err == nil {
					err = os.Symlink(target, current)
				}
			case "fifo":
				err = syscall.Mkfifo(current, 0o600)
			case "dir":
				err = os.Mkdir(current, 0o700)
			}
			if err != nil {
				t.Fatal(err)
			}
			until := "0s"
			if follow {
				until = time.Now().Add(3 * eventsPoll).Format(time.RFC3339Nano)
			}
			errF, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			done := make(chan error, 1)
			oldErr := os.Stderr
			os.Stderr = errF
			go func() {
				done <- runEvents(context.Background(), &globals{root: root}, eventsOptions{since: "0", until: until, format: "{{.Action}} {{.Actor.ID}}"}, time.Now(), &out)
			}()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				os.Stderr = oldErr
				t.Fatalf("%s: events --since 0 --until %s did not return", kind, until)
			}
			os.Stderr = oldErr
			errF.Close()
			warn, _ := os.ReadFile(errF.Name())
			if err != nil || out.String() != "pull a\n" {
				t.Errorf("%s (follow %v): events --since 0 = %q, %v; want %q", kind, follow, out.String(), err, "pull a\n")
			}
			if n := strings.Count(string(warn), "\n"); n != 1 || !strings.Contains(string(warn), events.File+":") || !strings.Contains(string(warn), "warning") {
				t.Errorf("%s (follow %v): stderr = %q, want one warning naming %s", kind, follow, warn, events.File)
			}
		}
	}
}
