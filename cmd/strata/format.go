package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"text/template"
	"unicode"
)

// tableDefault reports whether --format asks for the default table: docker reads "table"
// alone (and no format at all) so.
func tableDefault(format string) bool {
	return strings.TrimSpace(format) == "" || strings.TrimSpace(format) == "table"
}

// formatEscapes turns the \t and \n a shell passes through single quotes into a tab and a
// newline, as docker's formatter does, so 'table {{.ID}}\t{{.Names}}' lines up.
var formatEscapes = strings.NewReplacer(`\t`, "\t", `\n`, "\n")

// headerNamer is a row type that names some of its columns as docker does ("CONTAINER ID"
// for ID); the others are their field names in upper case, words apart ("CREATED AT").
type headerNamer interface {
	headers() map[string]string
}

// tableHeaders maps every exported field of item's struct type to its column header, for
// rendering a "table …" format's header line through the same template as the rows.
func tableHeaders(item any) map[string]string {
	out := map[string]string{}
	t := reflect.TypeOf(item)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return out
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() {
			out[f.Name] = upperWords(f.Name)
		}
	}
	if n, ok := item.(headerNamer); ok {
		for k, v := range n.headers() {
			out[k] = v
		}
	}
	return out
}

// upperWords is "CreatedAt" as "CREATED AT" and "CPUPerc" as "CPU PERC".
func upperWords(name string) string {
	var b bytes.Buffer
	r := []rune(name)
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) && (unicode.IsLower(r[i-1]) || (i+1 < len(r) && unicode.IsLower(r[i+1]))) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToUpper(c))
	}
	return b.String()
}

// maxPad bounds each side of {{pad}}.
const maxPad = 1 << 16

// templateFuncs are the functions docker's --format templates have, so a template written for
// docker (`{{join .Names ","}}`, `{{lower .State}}`) works here.
var templateFuncs = template.FuncMap{
	"json":  templateJSON,
	"join":  strings.Join,
	"split": strings.Split,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": func(s string) string {
		r := []rune(s)
		if len(r) > 0 {
			r[0] = unicode.ToUpper(r[0])
		}
		return string(r)
	},
	// Padding is bounded as fmt bounds a width: {{pad .ID 1e12 0}} must not ask for a
	// terabyte, which would kill strata past any recover.
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", min(max(before, 0), maxPad)) + s + strings.Repeat(" ", min(max(after, 0), maxPad))
	},
	"truncate": func(s string, n int) string {
		if r := []rune(s); n >= 0 && len(r) > n {
			return string(r[:n])
		}
		return s
	},
	"println": fmt.Sprintln,
}

// templateJSON is {{json .}}: as docker prints it, without escaping <, > and & for HTML.
func templateJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}
