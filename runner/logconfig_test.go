package runner

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/logger"
	"github.com/strata-run/strata/internal/logger/tagtemplate"
)

// The CLI's renderer (cmd/strata sets it too): runner's tests take --log-opt tag as the CLI
// does.
func init() { TagRenderer = tagtemplate.Render }

// ParseLogConfig takes --log-driver and --log-opt as docker's CLI and daemon do, and refuses
// in their words what they refuse (moby daemon/logger/factory.go ValidateLogOpts,
// jsonfilelog.ValidateLogOpt and New; docker/cli parseLoggingOpts).
func TestParseLogConfig(t *testing.T) {
	tests := []struct {
		driver string
		opts   []string
		want   LogConfig
		rot    logRotation
		err    string
	}{
		{driver: "", want: LogConfig{}, rot: logRotation{MaxFiles: 1}},
		{driver: "json-file", want: LogConfig{}, rot: logRotation{MaxFiles: 1}},
		{driver: "none", want: LogConfig{Type: "none"}},
		{driver: "json-file", opts: []string{"max-size=10k"}, want: LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10k"}},
			rot: logRotation{MaxSize: 10000, MaxFiles: 1}},
		{driver: "json-file", opts: []string{"max-size=10m", "max-file=3"}, rot: logRotation{MaxSize: 10_000_000, MaxFiles: 3}},
		{driver: "json-file", opts: []string{"max-size=1g", "max-file=2", "compress=true"}, rot: logRotation{MaxSize: 1_000_000_000, MaxFiles: 2, Compress: true}},
		{driver: "json-file", opts: []string{"max-size=1.5KiB"}, rot: logRotation{MaxSize: 1500, MaxFiles: 1}},
		{driver: "json-file", opts: []string{"max-size=100"}, rot: logRotation{MaxSize: 100, MaxFiles: 1}},
		{driver: "json-file", opts: []string{"max-size=1k", "compress=false"}, rot: logRotation{MaxSize: 1000, MaxFiles: 1}},
		// As docker's: max-file alone is taken, and bounds nothing.
		{driver: "json-file", opts: []string{"max-file=3"}, rot: logRotation{MaxFiles: 1}},
		{driver: "json-file", opts: []string{"mode=blocking"}, rot: logRotation{MaxFiles: 1}},

		{driver: "syslog", err: "logger: no log driver named 'syslog' is registered"},
		{driver: "bogus\x1b[2J", err: `logger: no log driver named "bogus\x1b[2J" is registered`},
		// local: json-file bounded by default as docker's local, with its options and errors
		// (moby daemon/logger/local/config.go).
		{driver: "local", want: LogConfig{Type: "local"}, rot: logRotation{MaxSize: 20 << 20, MaxFiles: 5, Compress: true}},
		{driver: "local", opts: []string{"max-size=1m", "max-file=2", "compress=false"}, rot: logRotation{MaxSize: 1_000_000, MaxFiles: 2}},
		{driver: "local", opts: []string{"max-size=0"}, rot: logRotation{MaxSize: 1, MaxFiles: 5, Compress: true}},
		{driver: "local", opts: []string{"max-file=0", "compress=false"}, rot: logRotation{MaxSize: 20 << 20, MaxFiles: 1}},
		{driver: "local", opts: []string{"labels=a", "tag={{.ID}}"}, rot: logRotation{MaxSize: 20 << 20, MaxFiles: 5, Compress: true}},
		{driver: "local", opts: []string{"max-file=1"}, err: "compression cannot be enabled when max file count is 1"},
		{driver: "local", opts: []string{"max-file=-1"}, err: "max-file must not be negative"},
		{driver: "local", opts: []string{"max-file=x"}, err: "invalid value for max-file: x: invalid syntax"},
		{driver: "local", opts: []string{"max-size=1q"}, err: "invalid value for max-size: 1q: invalid size: '1q'"},
		{driver: "local", opts: []string{"compress=maybe"}, err: "invalid boolean value for compress: maybe: invalid syntax"},
		{driver: "local", opts: []string{"max-sise=1k"}, err: "unknown log opt 'max-sise' for log driver local"},
		{driver: "local", opts: []string{"b=1", "a=2"}, err: "unknown log opt 'a' for log driver local"},
		{driver: "none", opts: []string{"max-size=1k"}, err: "invalid logging opts for driver none"},
		{driver: "json-file", opts: []string{"foo=1"}, err: "unknown log opt 'foo' for json-file log driver"},
		{driver: "json-file", opts: []string{"max-size"}, err: "invalid size: ''"},
		{driver: "json-file", opts: []string{"max-size=abc"}, err: "invalid size: 'abc'"},
		{driver: "json-file", opts: []string{"max-size=1e3"}, err: "invalid size: '1e3'"},
		{driver: "json-file", opts: []string{"max-size=0"}, err: "max-size must be a positive number"},
		{driver: "json-file", opts: []string{"max-size=-1"}, err: "invalid size: '-1'"},
		{driver: "json-file", opts: []string{"max-size=99999999999p"}, err: "too large"},
		{driver: "json-file", opts: []string{"max-size=1k", "max-file=0"}, err: "max-file cannot be less than 1"},
		{driver: "json-file", opts: []string{"max-size=1k", "max-file=x"}, err: `invalid max-file "x": invalid syntax`},
		{driver: "json-file", opts: []string{"max-size=1k", "compress=yes"}, err: `invalid compress "yes": invalid syntax`},
		{driver: "json-file", opts: []string{"max-size=1k", "compress=true"}, err: "compress cannot be true when max-file is less than 2 or max-size is not set"},
		{driver: "json-file", opts: []string{"max-file=3", "compress=true"}, err: "compress cannot be true when max-file is less than 2 or max-size is not set"},
		{driver: "json-file", opts: []string{"mode=sometimes"}, err: "logger: logging mode not supported: sometimes"},
		{driver: "json-file", opts: []string{"mode=non-blocking"}, err: "logging mode non-blocking is not supported"},
		{driver: "json-file", opts: []string{"max-buffer-size=4m"}, err: "logger: max-buffer-size option is only supported with 'mode=non-blocking'"},
		{driver: "json-file", opts: []string{"labels=a,b", "labels-regex=^com\\.", "env=A", "env-regex=^X_", "tag={{.Name}}/{{ .ID }}"}, rot: logRotation{MaxFiles: 1}},
		{driver: "json-file", opts: []string{"labels-regex=("}, err: "invalid labels-regex: error parsing regexp"},
		{driver: "json-file", opts: []string{"env-regex=[z-a]"}, err: "invalid env-regex: error parsing regexp"},
		{driver: "json-file", opts: []string{"env-regex=(\x1b7"}, err: `invalid env-regex: error parsing regexp: missing closing ): "(\x1b7"`},
		// docker's tag is a Go template over its logger.Info, with its helpers.
		{driver: "json-file", opts: []string{"tag={{.Name | upper}}"}, rot: logRotation{MaxFiles: 1}},
		{driver: "json-file", opts: []string{"tag={{.Hostname}}/{{.ContainerName}}/{{json .ContainerLabels}}"}, rot: logRotation{MaxFiles: 1}},
		{driver: "json-file", opts: []string{"tag=a}}b"}, rot: logRotation{MaxFiles: 1}},
		{driver: "json-file", opts: []string{"tag={{.Name"}, err: "template: log-tag:1: unclosed action"},
		{driver: "json-file", opts: []string{"tag={{.Nope}}"}, err: `template: log-tag:1:2: executing "log-tag" at <.Nope>: can't evaluate field Nope in type *logger.Info`},
		{driver: "json-file", opts: []string{"tag={{shout .Name}}"}, err: `template: log-tag:1: function "shout" not defined`},
		{driver: "json-file", opts: []string{"max-size=" + strings.Repeat("1", 5000)}, err: "too long"},
		{driver: "json-file", opts: make([]string, 65), err: "too many --log-opt"},
	}
	for _, tt := range tests {
		t.Run(tt.driver+" "+strings.Join(tt.opts, " "), func(t *testing.T) {
			got, err := ParseLogConfig(tt.driver, tt.opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseLogConfig(%q, %q) = %v, want an error with %q", tt.driver, tt.opts, err, tt.err)
				}
				if strings.ContainsAny(err.Error(), "\n\x1b") {
					t.Errorf("error %q is not one plain line", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLogConfig(%q, %q) = %v", tt.driver, tt.opts, err)
			}
			if tt.want.Type != "" || tt.driver == "" || (tt.driver == "json-file" && len(tt.opts) == 0) {
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("ParseLogConfig(%q, %q) = %+v, want %+v", tt.driver, tt.opts, got, tt.want)
				}
			}
			if !got.Keeps() {
				return
			}
			rot, err := got.rotation()
			if err != nil || rot != tt.rot {
				t.Errorf("rotation of %+v = %+v, %v; want %+v", got, rot, err, tt.rot)
			}
		})
	}
}

// inspect shows HostConfig.LogConfig as docker's: json-file with an empty Config by default
// (containers made before strata kept one too), the driver and options given otherwise; and
// LogPath is empty for none, which keeps no file, and for local, as docker's.
func TestInspectLogConfig(t *testing.T) {
	for _, tt := range []struct {
		lc      LogConfig
		want    InspectLogConfig
		logPath bool
	}{
		{LogConfig{}, InspectLogConfig{Type: "json-file", Config: map[string]string{}}, true},
		{LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1k"}}, InspectLogConfig{Type: "json-file", Config: map[string]string{"max-size": "1k"}}, true},
		{LogConfig{Type: "none"}, InspectLogConfig{Type: "none", Config: map[string]string{}}, false},
		{LogConfig{Type: "local"}, InspectLogConfig{Type: "local", Config: map[string]string{}}, false},
	} {
		c := &Container{ID: strings.Repeat("b", 64), Dir: "/x/" + strings.Repeat("b", 64), Config: Config{LogConfig: tt.lc}}
		d := Inspect(c)
		if !reflect.DeepEqual(d.HostConfig.LogConfig, tt.want) {
			t.Errorf("Inspect(%+v).HostConfig.LogConfig = %+v, want %+v", tt.lc, d.HostConfig.LogConfig, tt.want)
		}
		if (d.LogPath != "") != tt.logPath {
			t.Errorf("Inspect(%+v).LogPath = %q", tt.lc, d.LogPath)
		}
	}
}

// json-file's labels, labels-regex, env, env-regex and tag give every entry attributes, as
// docker's (its Info.ExtraAttributes, ParseLogTag): written as "attrs" between "stream" and
// "time", and shown by logs --details as key=value,… (query-escaped) before the line.
func TestLogAttrs(t *testing.T) {
	lc, err := ParseLogConfig("json-file", []string{"labels=app,missing", "labels-regex=^com\\.", "env=MODE", "env-regex=^X_", "tag={{.Name}}@{{.ImageName}}:{{.ID}}"})
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: strings.Repeat("d", 64), Dir: t.TempDir(), Config: Config{
		Name: "web", Image: "alpine:3.20.3", LogConfig: lc,
		Labels: map[string]string{"app": "shop", "com.example.team": "a b", "other": "x"},
		Spec:   Spec{Env: []string{"MODE=prod", "X_ONE=1", "SECRET=s", "X_TWO"}},
	}}
	attrs, err := logAttrs(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"MODE":"prod","X_ONE":"1","app":"shop","com.example.team":"a b","tag":"web@alpine:3.20.3:dddddddddddd"}`
	if string(attrs) != want {
		t.Fatalf("logAttrs = %s, want %s", attrs, want)
	}
	cl, err := openContainerLog(c.Dir, lc)
	if err != nil {
		t.Fatal(err)
	}
	w := newLogWriter(cl)
	w.setAttrs(attrs)
	mustWrite(t, w.stream("stdout"), "hello\n")
	cl.Close()
	b, err := os.ReadFile(filepath.Join(c.Dir, logFile))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\{"log":"hello\\n","stream":"stdout","attrs":` + regexp.QuoteMeta(want) + `,"time":"[^"]+"\}\n$`).Match(b) {
		t.Errorf("log.json = %s, want docker's json-file line with attrs", b)
	}
	var out bytes.Buffer
	if err := Logs(context.Background(), c, LogOptions{Details: true}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "MODE=prod,X_ONE=1,app=shop,com.example.team=a+b,tag=web%40alpine%3A3.20.3%3Adddddddddddd hello\n" {
		t.Errorf("Logs(Details) = %q", got)
	}
	out.Reset()
	if err := Logs(context.Background(), c, LogOptions{}, &out, io.Discard); err != nil || out.String() != "hello\n" {
		t.Errorf("Logs = %q, %v; want the line alone", out.String(), err)
	}

	// Past logAttrsMax, the container does not start with them.
	c.Config.Labels["app"] = strings.Repeat("x", logAttrsMax)
	if _, err := logAttrs(c); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("logAttrs of a huge label = %v, want an error", err)
	}
}

// TestLogTagTemplate: --log-opt tag is rendered as docker's ParseLogTag renders it, a Go
// template over its logger.Info with its helper functions.
func TestLogTagTemplate(t *testing.T) {
	host, _ := os.Hostname()
	c := &Container{ID: strings.Repeat("c", 64), Dir: "/run/c", Config: Config{
		Name: "web", Image: "alpine:3.20.3", ImageID: "sha256:" + strings.Repeat("a", 64),
		Labels: map[string]string{"app": "shop"},
		Spec:   Spec{Args: []string{"sh", "-c", "true"}, Env: []string{"MODE=prod"}},
	}}
	for tmpl, want := range map[string]string{
		"{{.ID}}-{{.Name}}":                       "cccccccccccc-web",
		"{{.ImageID}} {{.ImageName}}":             "aaaaaaaaaaaa alpine:3.20.3",
		"{{.ImageFullID}}":                        "sha256:" + strings.Repeat("a", 64),
		"{{truncate .FullID 3}}":                  "ccc",
		"{{.Name | upper}} {{title .Name}}":       "WEB Web",
		"{{.ContainerName}} {{.DaemonName}}":      "/web strata",
		"{{.Command}}":                            "sh -c true",
		"{{.Hostname}}":                           host,
		"{{json .ContainerLabels}}":               `{"app":"shop"}`,
		"{{index .ContainerLabels \"app\"}}":      "shop",
		"{{join (split .ImageName \":\") \"_\"}}": "alpine_3.20.3",
		"{{range .ContainerEnv}}{{.}}{{end}}":     "MODE=prod",
		"[{{pad .Name 1 2}}]":                     "[ web  ]",
		"a}}b":                                    "a}}b",
	} {
		got, err := renderLogTag(tmpl, c)
		if err != nil || got != want {
			t.Errorf("tag %q = %q, %v; want %q", tmpl, got, err, want)
		}
	}
	if _, err := renderLogTag("{{range .ContainerEnv}}"+strings.Repeat("x", 1<<10)+"{{.}}{{end}}{{range 2000}}{{$.FullID}}{{end}}", c); err == nil {
		t.Errorf("a tag of more than %d bytes was rendered", logAttrsMax)
	}
}

// TestLogTagRenderedForMonitor: the tag is rendered at create and again at each rename (the
// name it may show is the container's at its start, as docker renders it at each start), and
// kept in the config, for the monitor, which links no template engine (TagRenderer nil) and
// logs the tag rendered then. A container made before strata kept it renders its simple tag.
func TestLogTagRenderedForMonitor(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lc, err := ParseLogConfig("json-file", []string{"tag={{.Name | upper}}:{{len .ContainerArgs}}"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "web", Image: "alpine", LogConfig: lc, Spec: Spec{Args: []string{"sh", "-c", "true"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Rename(c, "shop"); err != nil {
		t.Fatal(err)
	}
	saved, err := s.Get(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer func(r func(string, *logger.Info, int) (string, error)) { TagRenderer = r }(TagRenderer)
	TagRenderer = nil // as in the monitor
	if attrs, err := logAttrs(saved); err != nil || string(attrs) != `{"tag":"SHOP:2"}` {
		t.Errorf("the monitor's attrs after a rename = %s, %v; want {\"tag\":\"SHOP:2\"}", attrs, err)
	}
	saved.Config.LogConfig = LogConfig{Config: map[string]string{"tag": "{{.Name}}/{{ .ID }}"}} // as before
	if attrs, err := logAttrs(saved); err != nil || string(attrs) != `{"tag":"shop/`+c.ID[:12]+`"}` {
		t.Errorf("the monitor's attrs of an older container = %s, %v", attrs, err)
	}
}
