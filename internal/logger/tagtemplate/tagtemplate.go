// Package tagtemplate renders --log-opt tag templates as docker's logging drivers do
// (loggerutils.ParseLogTag): a Go template over logger.Info, with docker's helper functions.
// It is linked by the CLI only: text/template brings net/url, which the init helper must not
// link.
package tagtemplate

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"text/template"

	"github.com/strata-run/strata/internal/logger"
)

// Funcs are docker's template helpers (its daemon/logger/templates).
var Funcs = template.FuncMap{
	"json": func(v any) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		return strings.TrimSpace(b.String())
	},
	"split": strings.Split,
	"join":  strings.Join,
	"title": strings.Title, //nolint:staticcheck // docker's, word for word
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"pad": func(s string, prefix, suffix int) string {
		if s == "" {
			return s
		}
		return strings.Repeat(" ", prefix) + s + strings.Repeat(" ", suffix)
	},
	"truncate": func(s string, n int) string {
		if len(s) < n {
			return s
		}
		return s[:n]
	},
}

// ErrTooLong is returned for a tag that renders to more than the bound Render is given.
var ErrTooLong = errors.New("the log tag is too long")

// Render renders the tag template tmpl over info, as docker's ParseLogTag does ("log-tag" is
// its template's name, which its errors show), failing once it passes max bytes.
func Render(tmpl string, info *logger.Info, max int) (string, error) {
	return RenderWith(parse, tmpl, info, max)
}

// Parser parses text as a template named name with the functions funcs.
type Parser func(name, text string, funcs template.FuncMap) (*template.Template, error)

// parse is text/template's parse, which bounds neither the time nor the memory the template
// takes to run.
func parse(name, text string, funcs template.FuncMap) (*template.Template, error) {
	return template.New(name).Funcs(funcs).Parse(text)
}

// RenderWith is Render with the template parsed by p, which may add to Funcs and rewrite the
// template to bound what it takes to run: the CLI's does ({{range 999999999999}}{{end}} spun
// for hours; a {{define}}d template recursing on printf's result, or a pad of 1e12 spaces, took
// every byte of memory).
func RenderWith(p Parser, tmpl string, info *logger.Info, max int) (string, error) {
	t, err := p("log-tag", tmpl, Funcs)
	if err != nil {
		return "", err
	}
	w := &boundedBuffer{max: max}
	if err := t.Execute(w, info); err != nil {
		if errors.Is(err, ErrTooLong) {
			return "", ErrTooLong
		}
		return "", err
	}
	return w.String(), nil
}

// boundedBuffer keeps what a template writes, up to max bytes: a template's loops could write
// without end.
type boundedBuffer struct {
	bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, ErrTooLong
	}
	return b.Buffer.Write(p)
}
