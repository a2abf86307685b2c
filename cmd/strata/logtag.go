package main

import (
	"errors"
	"text/template"

	"github.com/strata-run/strata/internal/logger"
	"github.com/strata-run/strata/internal/logger/tagtemplate"
	"github.com/strata-run/strata/runner"
)

// The CLI renders --log-opt tag templates (at create and rename); the monitor, which links no
// text/template, logs the tag rendered then.
func init() { runner.TagRenderer = renderLogTag }

// renderLogTag renders a tag as docker does (tagtemplate.Render), within a --format
// template's bounds of time and memory (parseBounded), whose errors it returns as they are,
// but for the control characters text/template quotes raw, escaped.
func renderLogTag(tmpl string, info *logger.Info, max int) (string, error) {
	parse := func(name, text string, funcs template.FuncMap) (*template.Template, error) {
		return parseBounded(name, "--log-opt tag", funcs, text)
	}
	tag, err := tagtemplate.RenderWith(parse, tmpl, info, max)
	if limit := formatLimitError(""); errors.As(err, &limit) {
		return "", limit
	}
	return tag, escapedErr(err)
}
