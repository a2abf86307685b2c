package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/logger"
	"github.com/strata-run/strata/internal/logger/tagtemplate"
	"github.com/strata-run/strata/runner"
)

// TestLogTagBounded: a --log-opt tag template has a --format template's bounds of time and
// memory, and create refuses one past them with status 125 and one line. The tag ran on
// text/template alone: `create --log-opt 'tag={{range 999999999999}}{{end}}'` spun a core for
// hours, a SIGTERM only cancelling a context it never looked at, and `{{pad .Name 1e12 0}}`
// or a {{define}}d template recursing on printf's result killed strata with "fatal error:
// out of memory" and a Go stack trace.
func TestLogTagBounded(t *testing.T) {
	defer func(d time.Duration, value, made int) {
		maxFormatTime, maxFormatValue, maxFormatMade = d, value, made
	}(maxFormatTime, maxFormatValue, maxFormatMade)
	// The time bound is cut short only for the case that is to reach it: on a loaded machine
	// the memory cases' doublings took more than 50ms, and ended on the time bound instead.
	slow := maxFormatTime
	maxFormatValue, maxFormatMade = 8<<20, 64<<20
	for _, tt := range []struct {
		tag, want string
		limit     time.Duration
	}{
		{"{{range 999999999999}}{{end}}", "--log-opt tag: the template ran for more than 50ms", 50 * time.Millisecond},
		{`{{define "x"}}{{template "x" (printf "%s%s" . .)}}{{end}}{{template "x" .Name}}`, "--log-opt tag: printf would make more than 8 MiB", slow},
		{`{{define "x"}}{{template "x" (upper (print . .))}}{{end}}{{template "x" .Name}}`, "--log-opt tag: print would make more than 8 MiB", slow},
		// Clamped to 64 KiB a side, as --format's pad: more than a tag may take.
		{"{{pad .Name 1000000000000 0}}", "the log tag is too long", slow},
	} {
		maxFormatTime = tt.limit
		t.Run(tt.tag, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, _, err := runCLI(t, t.TempDir(), "create", "--log-opt", "tag="+tt.tag, "nosuchimage", "true")
				done <- err
			}()
			select {
			case err := <-done:
				var ee *exitError
				if err == nil || !strings.HasSuffix(err.Error(), tt.want) || !errors.As(err, &ee) || ee.code != 125 {
					t.Errorf("create --log-opt tag=%s = %v, want status 125 and %q", tt.tag, err, tt.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("create --log-opt tag=%s still runs after 20s", tt.tag)
			}
		})
	}
	// Docker's templates render as before: its functions, a range, a define, a pad.
	for _, tt := range []struct{ tag, want string }{
		{`{{.Name}}/{{truncate .ID 4}}/{{upper .ImageName}}`, "name/0000/IMAGE"},
		{`{{define "n"}}<{{.}}>{{end}}{{range split "a,b" ","}}{{template "n" .}}{{end}}|{{pad .Name 1 1}}|{{title "ab cd"}}`, "<a><b>| name |Ab Cd"},
	} {
		_, _, err := runCLI(t, t.TempDir(), "create", "--log-opt", "tag="+tt.tag, "nosuchimage", "true")
		if err == nil || !strings.Contains(err.Error(), "nosuchimage") {
			t.Errorf("create --log-opt tag=%s = %v, want the tag taken (and the missing image refused)", tt.tag, err)
		}
		info := logger.Info{ContainerID: strings.Repeat("0", 64), ContainerName: "/name", ContainerImageName: "image"}
		got, err := runner.TagRenderer(tt.tag, &info, 64<<10)
		if err != nil || got != tt.want {
			t.Errorf("TagRenderer(%s) = %q, %v, want %q", tt.tag, got, err, tt.want)
		}
	}
	// Within the bounds, the tag is what docker's functions make of it, text/template's
	// builtins and errors included.
	info := logger.Info{ContainerID: strings.Repeat("ab", 32), ContainerName: "/wé<b>", ContainerImageName: "img:1", ContainerEntrypoint: "sh"}
	for _, tag := range []string{
		`{{json .Name}} {{json .}}`, `{{printf "%q-%5.2s" .Name .ID}}`, `{{html .Name}}{{js .Name}}{{urlquery .Name}}`,
		`{{print .Name 1}}{{println .ImageName}}`, `{{truncate .Name 2}}`, `{{title "wé b"}}{{upper .Name}}{{lower "ÀB"}}`,
		`{{join (split .ImageName ":") "/"}}`, `{{pad .Name 2 0}}{{pad "" 1 1}}`, `{{truncate .Name -1}}`, `{{.Bogus}}`, `{{index .ID 99}}`,
	} {
		want, wantErr := tagtemplate.Render(tag, &info, 64<<10)
		got, err := runner.TagRenderer(tag, &info, 64<<10)
		if got != want || fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Errorf("TagRenderer(%s) = %q, %v; docker's functions make %q, %v", tag, got, err, want, wantErr)
		}
	}
}
