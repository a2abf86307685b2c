package main

import (
	"github.com/strata-run/strata/internal/logger/tagtemplate"
	"github.com/strata-run/strata/runner"
)

// The CLI renders --log-opt tag templates (at create and rename); the monitor, which links no
// text/template, logs the tag rendered then.
func init() { runner.TagRenderer = tagtemplate.Render }
