package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"text/tabwriter"
	"text/template"
	"unicode"
	"unicode/utf8"
)

// tableDefault reports whether --format asks for the default table: docker reads "table"
// alone (and no format at all) so.
func tableDefault(format string) bool {
	return strings.TrimSpace(format) == "" || strings.TrimSpace(format) == "table"
}

// formatEscapes turns the \t and \n a shell passes through single quotes into a tab and a
// newline, as docker's formatter does, so 'table {{.ID}}\t{{.Names}}' lines up. Only in the
// text between actions: inside one, "\n" is a Go string's escape already, and made a raw
// newline it ended the string ({{"\n"}}, the usual way to end lines in a range, failed with
// "unterminated quoted string").
var formatEscapes = textEscaper{strings.NewReplacer(`\t`, "\t", `\n`, "\n")}

type textEscaper struct{ r *strings.Replacer }

// Replace applies the escapes to format's text outside {{ }} actions.
func (e textEscaper) Replace(format string) string {
	var b strings.Builder
	for {
		open := strings.Index(format, "{{")
		if open < 0 {
			b.WriteString(e.r.Replace(format))
			return b.String()
		}
		b.WriteString(e.r.Replace(format[:open]))
		end := actionEnd(format, open+2)
		b.WriteString(format[open:end])
		format = format[end:]
	}
}

// actionEnd returns the index just past the "}}" that closes the action whose body starts at
// i in s, passing over quoted strings, raw strings, character constants and comments (which
// may hold "}}"), or len(s) when it is not closed (the parser says so).
func actionEnd(s string, i int) int {
	for i < len(s) {
		switch c := s[i]; {
		case c == '"' || c == '\'':
			i++
			for i < len(s) && s[i] != c {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case c == '`':
			if j := strings.IndexByte(s[i+1:], '`'); j >= 0 {
				i += j + 2
			} else {
				return len(s)
			}
		case strings.HasPrefix(s[i:], "/*"):
			if j := strings.Index(s[i+2:], "*/"); j >= 0 {
				i += j + 4
			} else {
				return len(s)
			}
		case strings.HasPrefix(s[i:], "}}"):
			return i + 2
		default:
			i++
		}
	}
	return len(s)
}

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

// headerMap is a table's column headers, the value its header line is rendered from.
type headerMap map[string]string

// Label is the header of a {{.Label "com.example.some-key"}} column: the key's last dotted
// part with - and _ as spaces ("some key"), as docker's. Without it the header line failed
// and was left out, and a script's `tail -n +2` dropped the first row instead.
func (h headerMap) Label(name string) string {
	return strings.NewReplacer("-", " ", "_", " ").Replace(name[strings.LastIndex(name, ".")+1:])
}

// headerFuncs replace, for the header line, the functions that change a value: a column is
// headed by its name as it is ("table {{json .Image}}" by IMAGE, not "IMAGE" in quotes,
// {{truncate .ID 5}} by CONTAINER ID), as docker's. pad still pads, to keep the columns
// aligned.
var headerFuncs = template.FuncMap{
	"json":     func(v string) string { return v },
	"split":    func(v, _ string) string { return v },
	"join":     func(v, _ string) string { return v },
	"title":    func(v string) string { return v },
	"lower":    func(v string) string { return v },
	"upper":    func(v string) string { return v },
	"truncate": func(v string, _ int) string { return v },
}

// writeHeader writes a "table …" format's header line to out: the template run over item's
// column names. A template that fails there (it does more than name fields) still gets its
// line, with what it printed before failing, as docker's: a table's first line is its header,
// which scripts skip.
func writeHeader(out *formatBuffer, tmpl *template.Template, item any) {
	h := &formatBuffer{limit: maxFormatOutput}
	if ht, err := tmpl.Clone(); err == nil {
		ht.Option("missingkey=error").Funcs(headerFuncs).Execute(h, headerMap(tableHeaders(item)))
	}
	out.Write(h.Bytes())
	out.WriteByte('\n')
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
	// title capitalizes each word and leaves the rest as it is, as docker's (x/text's
	// cases.Title with NoLower).
	"title": func(s string) string {
		r := []rune(s)
		for i := range r {
			if i == 0 || !unicode.IsLetter(r[i-1]) && !unicode.IsDigit(r[i-1]) && r[i-1] != '\'' {
				r[i] = unicode.ToTitle(r[i])
			}
		}
		return string(r)
	},
	// Padding is bounded as fmt bounds a width: {{pad .ID 1e12 0}} must not ask for a
	// terabyte, which would kill strata past any recover.
	// An empty value stays empty, as docker's: "{{pad .Ports 1 0}}" adds no space to nothing.
	"pad": func(s string, before, after int) string {
		if s == "" {
			return s
		}
		return strings.Repeat(" ", min(max(before, 0), maxPad)) + s + strings.Repeat(" ", min(max(after, 0), maxPad))
	},
	"truncate": func(s string, n int) string {
		if n >= 0 && utf8.RuneCountInString(s) > n {
			// The first n runes, without making a rune slice of all of s.
			i := 0
			for range n {
				_, size := utf8.DecodeRuneInString(s[i:])
				i += size
			}
			return s[:i]
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

// maxFormatOutput bounds what one --format run may print. Output is rendered whole before it
// is written (no half listing on an error), so `{{range 100000000000}}x{{end}}` would
// otherwise grow it until the kernel kills strata.
const maxFormatOutput = 64 << 20

// errFormatOutput is what a template that prints more than maxFormatOutput fails with.
var errFormatOutput = fmt.Errorf("--format: the template printed more than %d MiB", maxFormatOutput>>20)

// formatBuffer is a bytes.Buffer that refuses to grow past limit; text/template stops at the
// first write that fails and returns its error.
type formatBuffer struct {
	bytes.Buffer
	limit int
}

func (b *formatBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.limit {
		return 0, errFormatOutput
	}
	return b.Buffer.Write(p)
}

// templateMessages match text/template's errors: "template: NAME:LINE:COL: executing "NAME"
// at <.Bogus>: REASON" when run, "template: NAME:LINE: REASON" when parsed; then the REASONs
// of a missing field and a missing key. Compiled when an error needs them, not at every start.
var templateMessages = sync.OnceValue(func() [3]*regexp.Regexp {
	return [3]*regexp.Regexp{
		regexp.MustCompile(`^template: format:(\d+)(?::(\d+))?: (?:executing "format" at <(.*?)>: )?(.*)$`),
		regexp.MustCompile(`^can't evaluate field (\S+) in type (\S+)$`),
		regexp.MustCompile(`^map has no entry for key "(.*)"$`),
	}
})

// templateError says where and why a --format template failed, in the user's terms:
// text/template names its own template and the Go type of the value ("in type main.psRow");
// a missing field of the row itself lists the fields there are. prefix is what the message
// starts with ("--format", "invalid --format template").
func templateError(prefix string, err error, item any) error {
	if errors.Is(err, errFormatOutput) {
		return err
	}
	if limit := formatLimitError(""); errors.As(err, &limit) {
		return limit
	}
	res := templateMessages()
	templateMessage, missingField, missingKey := res[0], res[1], res[2]
	m := templateMessage.FindStringSubmatch(err.Error())
	if m == nil {
		return escapedErr(fmt.Errorf("%s: %w", prefix, err))
	}
	where := "line " + m[1]
	if m[2] != "" {
		where += ", column " + m[2]
	}
	if m[3] != "" {
		where += ", at <" + m[3] + ">"
	}
	reason := m[4]
	if f := missingField.FindStringSubmatch(reason); f != nil {
		reason = "no field " + f[1]
		if t := reflect.TypeOf(item); t != nil && t.String() == f[2] {
			reason += " (there are " + strings.Join(fieldNames(item), ", ") + ")"
		}
	} else if f := missingKey.FindStringSubmatch(reason); f != nil {
		reason = "no field " + f[1]
	}
	return escapedErr(fmt.Errorf("%s: %s: %s", prefix, where, reason))
}

// escapedError is err with the control characters and invalid UTF-8 of its message escaped
// (escapeUnprintable): text/template's lexer puts the text it could not read in its message
// as it is ("malformed character constant: '<CR>0'").
type escapedError struct{ err error }

func (e *escapedError) Error() string { return escapeUnprintable(e.err.Error()) }
func (e *escapedError) Unwrap() error { return e.err }

// escapedErr is err, as an escapedError when its message has anything to escape.
func escapedErr(err error) error {
	if err == nil || escapeUnprintable(err.Error()) == err.Error() {
		return err
	}
	return &escapedError{err}
}

// fieldNames are the exported fields of item's struct type, in order.
func fieldNames(item any) []string {
	var out []string
	t := reflect.TypeOf(item)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() {
			out = append(out, f.Name)
		}
	}
	return out
}

// renderTemplate runs format over each item, one per line, as docker --format does, and says
// whether it is a "table" format: then the first line is the header (the template run over
// the column names, see writeHeader), for the caller's
// tabwriter to align. Nothing is returned on an error, so no half listing is printed.
func renderTemplate[T any](format string, items []T) ([]byte, bool, error) {
	format, table := strings.CutPrefix(strings.TrimLeft(formatEscapes.Replace(format), " "), "table")
	var zero T
	if table && format != "" && !unicode.IsSpace(rune(format[0])) {
		// "tablefoo" is a template, not a table.
		format, table = "table"+format, false
	}
	// Only spaces are trimmed, as docker's: a format's own "\n" at the end is a blank line
	// after each item.
	tmpl, err := parseFormat(strings.Trim(format, " "))
	if err != nil {
		return nil, false, templateError("invalid --format template", err, zero)
	}
	out := &formatBuffer{limit: maxFormatOutput}
	if table {
		writeHeader(out, tmpl, zero)
	}
	for _, it := range items {
		if err := tmpl.Execute(out, it); err != nil {
			return nil, false, templateError("--format", err, it)
		}
		if _, err := out.Write([]byte{'\n'}); err != nil {
			return nil, false, err
		}
	}
	return out.Bytes(), table, nil
}

// writeTemplate writes items rendered with format to w, a table through docker's table
// writer: columns at least 10 wide, 3 spaces apart.
func writeTemplate[T any](w io.Writer, format string, items []T) error {
	out, table, err := renderTemplate(format, items)
	if err != nil || !table {
		if err == nil {
			_, err = w.Write(out)
		}
		return err
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	tw.Write(out)
	return tw.Flush()
}
