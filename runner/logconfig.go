package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-run/strata/internal/logger"
	"github.com/strata-run/strata/internal/quote"
)

// LogConfig is docker's HostConfig.LogConfig (--log-driver, --log-opt): the container's
// logging driver and its options. Its zero value, as in containers made before strata kept
// one, is json-file without options.
type LogConfig struct {
	Type   string            `json:"Type,omitempty"`
	Config map[string]string `json:"Config,omitempty"`
	// RenderedTag is the tag option's template rendered at the container's create and at
	// each rename (renderTag), for the monitor, which renders none (TagRenderer); nil for a
	// container made before strata kept it, whose tag is rendered at its start.
	RenderedTag *string `json:"renderedTag,omitempty"`
}

// TagRenderer renders a --log-opt tag template over a container's logger.Info as docker
// does, its output bounded to max bytes (tagtemplate.Render). The CLI sets it: it links
// text/template, which the init helper (the monitor) must not. Without it, a tag is text
// with {{.Key}} actions of logger.Info's seven keys (renderSimpleLogTag).
var TagRenderer func(tmpl string, info *logger.Info, max int) (string, error)

// The logging drivers strata has: docker's json-file, its default, into log.json (rotated as
// docker's with max-size and max-file); local, which is json-file bounded by default as
// docker's local is (20 MiB files, 5 of them, the rotated ones gzipped); and none, which
// keeps nothing.
//
// docker's local keeps its entries in a format of its own (protobuf), which it keeps out of
// its API on purpose (its inspect shows no LogPath for it: the file's format is no stable
// interface); strata's local writes json-file's lines into the same files json-file uses, and
// inspect shows no LogPath for it either. What a user of local sees is docker's: its
// options, their defaults and errors, logs reading the log whole.
const (
	LogDriverJSONFile = "json-file"
	LogDriverLocal    = "local"
	LogDriverNone     = "none"
)

// logOptsMax bounds --log-opt: docker's json-file has eight options, each a short value.
const (
	logOptsMax     = 64
	logOptValueMax = 4096
)

// ParseLogConfig reads --log-driver and --log-opt (KEY=VALUE, KEY alone an empty value, as
// docker's CLI reads them) and checks them as docker's CLI and daemon do, in their words: a
// driver strata does not have, an option json-file does not know, a max-size that is no
// size or not positive. docker's daemon checks the values only when the container starts;
// strata checks them all at create, so a bad one is refused before anything is made.
func ParseLogConfig(driver string, opts []string) (LogConfig, error) {
	if driver == "" {
		driver = LogDriverJSONFile
	}
	if driver == LogDriverJSONFile && len(opts) == 0 {
		return LogConfig{}, nil // the default, as a container made before strata kept one
	}
	if driver == LogDriverNone && len(opts) > 0 {
		return LogConfig{}, fmt.Errorf("invalid logging opts for driver %s", driver)
	}
	if len(opts) > logOptsMax {
		return LogConfig{}, fmt.Errorf("too many --log-opt (%d): at most %d", len(opts), logOptsMax)
	}
	lc := LogConfig{Type: driver}
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		if len(o) > logOptValueMax {
			return LogConfig{}, fmt.Errorf("invalid --log-opt %s: too long", quote.Value(o))
		}
		if lc.Config == nil {
			lc.Config = map[string]string{}
		}
		lc.Config[k] = v
	}
	if err := lc.validate(); err != nil {
		return LogConfig{}, err
	}
	return lc, nil
}

// jsonFileLogOpts are the options docker's json-file driver takes (its ValidateLogOpt):
// max-size, max-file and compress bound the log (rotation); labels, labels-regex, env,
// env-regex and tag add attributes to each entry (logAttrs), which logs --details shows.
var jsonFileLogOpts = map[string]bool{
	"max-size": true, "max-file": true, "compress": true,
	"labels": true, "labels-regex": true, "env": true, "env-regex": true, "tag": true,
}

// validate checks c as docker's logger.ValidateLogOpts and its json-file driver's New do.
func (c LogConfig) validate() error {
	switch c.driver() {
	case LogDriverNone:
		return nil // docker's ValidateLogOpts takes any for none; the CLI refused them above
	}
	// The options of every driver, docker's logger reads them first (builtInLogOpts).
	switch mode := c.Config["mode"]; mode {
	case "", "blocking":
	case "non-blocking":
		return errors.New("logging mode non-blocking is not supported: strata's monitor writes each entry to the log as the container writes it (mode=blocking)")
	default:
		return fmt.Errorf("logger: logging mode not supported: %s", dockerQuoted(mode, false))
	}
	if _, ok := c.Config["max-buffer-size"]; ok {
		// docker's, before the size is read: it is for non-blocking only, refused above.
		return errors.New("logger: max-buffer-size option is only supported with 'mode=non-blocking'")
	}
	switch c.Type {
	case LogDriverJSONFile, LogDriverLocal:
	default:
		return fmt.Errorf("logger: no log driver named %s is registered", dockerQuoted(c.Type, true))
	}
	for _, k := range slices.Sorted(maps.Keys(c.Config)) {
		switch {
		case k == "mode" || jsonFileLogOpts[k]:
		case c.Type == LogDriverLocal:
			return fmt.Errorf("unknown log opt %s for log driver local", dockerQuoted(k, true))
		default:
			return fmt.Errorf("unknown log opt %s for json-file log driver", dockerQuoted(k, true))
		}
	}
	// What docker's driver finds wrong only as the container starts.
	for _, k := range []string{"labels-regex", "env-regex"} {
		if _, err := regexp.Compile(c.Config[k]); err != nil {
			return fmt.Errorf("invalid %s: %w", k, quote.Regexp(err))
		}
	}
	if _, err := renderLogTag(c.Config["tag"], nil); err != nil {
		return err
	}
	_, err := c.rotation()
	return err
}

// driver is c's driver, json-file when not set.
func (c LogConfig) driver() string {
	if c.Type == "" {
		return LogDriverJSONFile
	}
	return c.Type
}

// Keeps says whether the driver keeps a log that `logs` reads: none keeps nothing.
func (c LogConfig) Keeps() bool {
	d := c.driver()
	return d == LogDriverJSONFile || d == LogDriverLocal
}

// ErrLogsNotSupported is docker's answer to `logs` of a container whose logging driver keeps
// no log (none).
var ErrLogsNotSupported = errors.New("configured logging driver does not support reading")

// logRotation is how json-file's log.json is bounded: MaxSize bytes at most in a file (0: no
// bound), MaxFiles files in all (log.json and MaxFiles-1 rotated ones), the rotated ones
// gzipped when Compress.
type logRotation struct {
	MaxSize  int64
	MaxFiles int
	Compress bool
}

// rotation reads max-size, max-file and compress as docker's json-file New does, with its
// errors: max-size in go-units' FromHumanSize (decimal units: 10k is 10000 bytes), max-file
// at least 1 and of effect only with max-size (as docker's), compress only with both.
func (c LogConfig) rotation() (logRotation, error) {
	if c.driver() == LogDriverLocal {
		return c.localRotation()
	}
	r := logRotation{MaxFiles: 1}
	if s, ok := c.Config["max-size"]; ok {
		n, err := parseHumanSize(s)
		if err != nil {
			return r, err
		}
		if n <= 0 {
			return r, errors.New("max-size must be a positive number")
		}
		r.MaxSize = n
	}
	if s, ok := c.Config["max-file"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return r, fmt.Errorf("invalid max-file %s: %w", quote.Value(s), errors.Unwrap(err))
		}
		if n < 1 {
			return r, errors.New("max-file cannot be less than 1")
		}
		r.MaxFiles = n
	}
	if s, ok := c.Config["compress"]; ok {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return r, fmt.Errorf("invalid compress %s: %w", quote.Value(s), errors.Unwrap(err))
		}
		if b && (r.MaxFiles == 1 || r.MaxSize == 0) {
			return r, errors.New("compress cannot be true when max-file is less than 2 or max-size is not set")
		}
		r.Compress = b
	}
	if r.MaxSize == 0 {
		r.MaxFiles = 1 // as docker's: max-file alone bounds nothing
	}
	return r, nil
}

// localRotation reads max-size, max-file and compress as docker's local driver does (its
// newConfig and validateConfig), with its defaults and errors. A max-size of 0 rotates at
// every entry, as docker's; a max-file of 0 or 1 keeps log.json alone.
func (c LogConfig) localRotation() (logRotation, error) {
	r := logRotation{MaxSize: 20 << 20, MaxFiles: 5, Compress: true}
	if v, ok := c.Config["max-size"]; ok {
		n, err := parseHumanSize(v)
		if err != nil {
			return r, fmt.Errorf("invalid value for max-size: %s: %w", dockerQuoted(v, false), err)
		}
		r.MaxSize = max(n, 1)
	}
	if v, ok := c.Config["max-file"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return r, fmt.Errorf("invalid value for max-file: %s: %w", dockerQuoted(v, false), errors.Unwrap(err))
		}
		if n < 0 {
			return r, errors.New("max-file must not be negative")
		}
		r.MaxFiles = max(n, 1)
	}
	if v, ok := c.Config["compress"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return r, fmt.Errorf("invalid boolean value for compress: %s: %w", dockerQuoted(v, false), errors.Unwrap(err))
		}
		r.Compress = b
	}
	if r.Compress && r.MaxFiles <= 1 {
		return r, errors.New("compression cannot be enabled when max file count is 1")
	}
	return r, nil
}

// parseHumanSize reads a size as go-units' FromHumanSize: a decimal number, an optional space,
// then an optional unit k, m, g, t or p, each optionally followed by i and b ("10m", "1.5GB",
// "512 kb"); units are decimal (k = 1000), as docker's json-file max-size reads them.
func parseHumanSize(s string) (int64, error) {
	m := sizePattern().FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size: %s", dockerQuoted(s, true))
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size: %s", dockerQuoted(s, true))
	}
	mult := map[string]float64{"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15}[strings.ToLower(m[2])]
	n := f * mult
	if n > math.MaxInt64/2 {
		return 0, fmt.Errorf("invalid size: %s: too large", dockerQuoted(s, true))
	}
	return int64(n), nil
}

// dockerQuoted is s as docker's messages quote it, between single quotes (or, with single
// false, bare), when it is short printable ASCII without a quote; otherwise quoted and cut
// as strata quotes what it is given back.
func dockerQuoted(s string, single bool) string {
	if len(s) > quote.MaxValue {
		return quote.Value(s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f || s[i] == '\'' {
			return quote.Value(s)
		}
	}
	if single {
		return "'" + s + "'"
	}
	return s
}

// inspect is c as docker's inspect shows HostConfig.LogConfig: the driver's name and its
// options, an empty map when there are none.
func (c LogConfig) inspect() InspectLogConfig {
	cfg := maps.Clone(c.Config)
	if cfg == nil {
		cfg = map[string]string{}
	}
	return InspectLogConfig{Type: c.driver(), Config: cfg}
}

// logAttrsMax bounds the attributes every entry of a log carries (json-file's labels, env,
// tag): an entry stays within what Logs reads (maxLogEntry).
const logAttrsMax = 64 << 10

// logAttrs is the attrs object every entry of c's json-file log carries, as docker's json-file
// computes it when the container starts (its Info.ExtraAttributes and ParseLogTag): the
// values of the labels named by labels or matched by labels-regex, of the environment
// variables named by env or matched by env-regex, and the rendered tag. nil without any.
func logAttrs(c *Container) (json.RawMessage, error) {
	cfg := c.Config.LogConfig.Config
	if cfg["labels"] == "" && cfg["labels-regex"] == "" && cfg["env"] == "" && cfg["env-regex"] == "" && cfg["tag"] == "" {
		return nil, nil // the usual case: a monitor's start spends nothing on them
	}
	extra := map[string]string{}
	if labels := cfg["labels"]; labels != "" {
		for _, l := range strings.Split(labels, ",") {
			if v, ok := c.Config.Labels[l]; ok {
				extra[l] = v
			}
		}
	}
	if expr := cfg["labels-regex"]; expr != "" {
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("invalid labels-regex: %w", quote.Regexp(err))
		}
		for k, v := range c.Config.Labels {
			if re.MatchString(k) {
				extra[k] = v
			}
		}
	}
	env := map[string]string{}
	for _, kv := range c.Config.Spec.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if names := cfg["env"]; names != "" {
		for _, k := range strings.Split(names, ",") {
			if v, ok := env[k]; ok {
				extra[k] = v
			}
		}
	}
	if expr := cfg["env-regex"]; expr != "" {
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("invalid env-regex: %w", quote.Regexp(err))
		}
		for k, v := range env {
			if re.MatchString(k) {
				extra[k] = v
			}
		}
	}
	if tmpl, ok := cfg["tag"]; ok && tmpl != "" {
		tag, err := containerLogTag(c)
		if err != nil {
			return nil, err
		}
		if tag != "" {
			extra["tag"] = tag
		}
	}
	if len(extra) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(extra)
	if err != nil {
		return nil, err
	}
	if len(b) > logAttrsMax {
		return nil, fmt.Errorf("the log's attributes (--log-opt labels, env, tag) take %d bytes, more than %d", len(b), logAttrsMax)
	}
	return b, nil
}

// renderLogTag renders a tag template as docker's ParseLogTag does: a Go template over
// docker's logger.Info, with its helper functions (TagRenderer). c nil checks it, over a
// sample container, at create: docker finds a bad one as the container starts.
func renderLogTag(tmpl string, c *Container) (string, error) {
	if tmpl == "" {
		return "", nil
	}
	info := sampleLogInfo
	if c != nil {
		info = logInfo(c)
	}
	if TagRenderer == nil {
		return renderSimpleLogTag(tmpl, &info)
	}
	return TagRenderer(tmpl, &info, logAttrsMax)
}

// containerLogTag is c's tag: the one rendered at its create or last rename, or, for a
// container made before strata kept it, rendered now.
func containerLogTag(c *Container) (string, error) {
	if t := c.Config.LogConfig.RenderedTag; t != nil {
		return *t, nil
	}
	return renderLogTag(c.Config.LogConfig.Config["tag"], c)
}

// renderTag renders c's tag into RenderedTag, as docker renders it at each start, with the
// name the container has then: at create and at each rename, which a tag may name.
func renderTag(c *Container) error {
	lc := &c.Config.LogConfig
	lc.RenderedTag = nil
	if lc.Config["tag"] == "" || TagRenderer == nil {
		return nil
	}
	tag, err := renderLogTag(lc.Config["tag"], c)
	if err != nil {
		return err
	}
	lc.RenderedTag = &tag
	return nil
}

// sampleLogInfo is the container a tag template is checked over before there is one.
var sampleLogInfo = logger.Info{
	ContainerID: strings.Repeat("0", 64), ContainerName: "/name", ContainerEntrypoint: "sh",
	ContainerImageID: "sha256:" + strings.Repeat("0", 64), ContainerImageName: "image", DaemonName: "strata",
}

// logInfo is what docker's logger.Info says of c.
func logInfo(c *Container) logger.Info {
	var entrypoint string
	args := c.Config.Spec.Args
	if len(args) > 0 {
		entrypoint, args = args[0], args[1:]
	}
	return logger.Info{
		Config:              c.Config.LogConfig.Config,
		ContainerID:         c.ID,
		ContainerName:       "/" + c.Config.Name,
		ContainerEntrypoint: entrypoint,
		ContainerArgs:       args,
		ContainerImageID:    c.Config.ImageID,
		ContainerImageName:  c.Config.Image,
		ContainerCreated:    c.Config.Created,
		ContainerEnv:        c.Config.Spec.Env,
		ContainerLabels:     c.Config.Labels,
		LogPath:             inspectLogPath(c),
		DaemonName:          "strata",
	}
}

// logTagKeys are the keys renderSimpleLogTag reads: logger.Info's short and full container
// and image IDs, the container's name, the image's name as given, and the daemon's.
var logTagKeys = []string{"ID", "FullID", "Name", "ImageID", "ImageFullID", "ImageName", "DaemonName"}

// renderSimpleLogTag renders a tag of text with {{.Key}} actions of logTagKeys: what the
// monitor renders of a container made before strata rendered its tag at create (which took
// no other), with no text/template.
func renderSimpleLogTag(tmpl string, info *logger.Info) (string, error) {
	var b strings.Builder
	rest := tmpl
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("invalid log tag template %s", quote.Value(tmpl))
		}
		key, ok := strings.CutPrefix(strings.TrimSpace(rest[i+2:i+j]), ".")
		if !ok || !slices.Contains(logTagKeys, key) {
			return "", fmt.Errorf("invalid log tag template %s: without the CLI's renderer, strata reads text with {{.ID}}, {{.FullID}}, {{.Name}}, {{.ImageID}}, {{.ImageFullID}}, {{.ImageName}} or {{.DaemonName}}", quote.Value(tmpl))
		}
		b.WriteString(logTagValue(key, info))
		rest = rest[i+j+2:]
	}
}

// logTagValue is what key of logTagKeys stands for in info.
func logTagValue(key string, info *logger.Info) string {
	switch key {
	case "ID":
		return info.ID()
	case "FullID":
		return info.FullID()
	case "Name":
		return info.Name()
	case "ImageID":
		return info.ImageID()
	case "ImageFullID":
		return info.ImageFullID()
	case "ImageName":
		return info.ImageName()
	case "DaemonName":
		return info.DaemonName
	}
	return ""
}
