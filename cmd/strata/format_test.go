package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/logger"
)

func TestUpperWords(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Names", "NAMES"},
		{"CreatedAt", "CREATED AT"},
		{"ID", "ID"},
		{"CPUPerc", "CPU PERC"},
		{"ExitCode", "EXIT CODE"},
	}
	for _, tt := range tests {
		if got := upperWords(tt.in); got != tt.want {
			t.Errorf("upperWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPrintTemplate(t *testing.T) {
	rows := []psRow{{ID: "abc", Names: "web", State: "running"}, {ID: "defgh", Names: "db", State: "exited"}}
	tests := []struct {
		format  string
		want    string
		wantErr string
	}{
		{format: "{{.Names}}", want: "web\ndb\n"},
		// A shell's single quotes pass \t as two characters; docker reads them as a tab.
		{format: `{{.Names}}\t{{.State}}`, want: "web\trunning\ndb\texited\n"},
		{format: `table {{.ID}}\t{{.Names}}`, want: "CONTAINER ID   NAMES\nabc            web\ndefgh          db\n"},
		// The header is what the template printed before it failed on the names, as docker's:
		// a table's first line is always its header.
		{format: `table {{.Names}} {{.CreatedAt.Year}}`, want: "NAMES \nweb 1\ndb 1\n"},
		// The functions that change a value leave the header's names as they are; pad pads.
		{format: `table {{truncate .ID 2}}\t{{json .Names}}\t{{upper .State}}|{{lower .Names}}|{{title .State}}|{{join (split .Names "e") "-"}}|{{pad .State 1 1}}|`, want: "CONTAINER ID   NAMES     STATE|NAMES|STATE|NAMES| STATE |\nab             \"web\"     RUNNING|web|Running|w-b| running |\nde             \"db\"      EXITED|db|Exited|db| exited |\n"},
		{format: `{{pad .Ports 1 2}}|{{pad .Names 0 1}}|`, want: "|web |\n|db |\n"},
		// Only spaces around a format are trimmed, as docker's: its "\n" at the end is kept.
		{format: ` {{.Names}}\n `, want: "web\n\ndb\n\n"},
		{format: `{{upper .Names}},{{title .State}},{{truncate .ID 2}},{{join (split .ID "") "-"}}`, want: "WEB,Running,ab,a-b-c\nDB,Exited,de,d-e-f-g-h\n"},
		{format: `{{json .Names}}`, want: "\"web\"\n\"db\"\n"},
		{format: `{{pad .Names 1 2}}|`, want: " web  |\n db  |\n"},
		{format: "{{", wantErr: "invalid --format template"},
		{format: "{{.Bogus}}", wantErr: "--format"},
		{format: "table {{.Bogus}}", wantErr: "--format"},
		{format: "{{nosuchfunc .}}", wantErr: "invalid --format template"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := printTemplate(&out, tt.format, rows)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("printTemplate(%q) = %v, want an error with %q", tt.format, err, tt.wantErr)
			}
			if out.Len() != 0 {
				t.Errorf("printTemplate(%q) wrote %q before failing, want nothing", tt.format, out.String())
			}
		case err != nil:
			t.Errorf("printTemplate(%q) = %v", tt.format, err)
		case out.String() != tt.want:
			t.Errorf("printTemplate(%q) = %q, want %q", tt.format, out.String(), tt.want)
		}
	}
}

func TestPadIsBounded(t *testing.T) {
	var out bytes.Buffer
	if err := printTemplate(&out, "{{pad .Names 1000000000000 0}}", []psRow{{Names: "x"}}); err != nil {
		t.Fatal(err)
	}
	if out.Len() > 2*maxPad {
		t.Errorf("{{pad}} of 1e12 wrote %d bytes, want at most %d", out.Len(), 2*maxPad)
	}
}

// TestFormatIDs: templates and json show IDs as the table does, 12 hex digits, and whole with
// --no-trunc, as docker's ps and images do.
func TestFormatIDs(t *testing.T) {
	const full = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	ps := []psRow{{ID: full, Names: "web"}}
	images := []imageRow{{ID: "sha256:" + full, Repository: "alpine", Tag: "3"}}
	tests := []struct {
		name    string
		print   func(w *bytes.Buffer, noTrunc bool, format string) error
		format  string
		noTrunc bool
		want    string
	}{
		{"ps template", psPrinter(ps), "{{.ID}}", false, full[:12] + "\n"},
		{"ps template --no-trunc", psPrinter(ps), "{{.ID}}", true, full + "\n"},
		{"ps json", psPrinter(ps), "json", false, `"ID":"` + full[:12] + `"`},
		{"images template", imagesPrinter(images), "{{.ID}}", false, full[:12] + "\n"},
		{"images template --no-trunc", imagesPrinter(images), "{{.ID}}", true, "sha256:" + full + "\n"},
		{"images json", imagesPrinter(images), "json", false, `"ID":"` + full[:12] + `"`},
		{"images table --no-trunc", imagesPrinter(images), "", true, "sha256:" + full},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := tt.print(&b, tt.noTrunc, tt.format); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !strings.Contains(b.String(), tt.want) {
			t.Errorf("%s: printed %q, want %q in it", tt.name, b.String(), tt.want)
		}
	}
	if ps[0].ID != full || images[0].ID != "sha256:"+full {
		t.Errorf("printing changed the caller's rows")
	}
}

func psPrinter(rows []psRow) func(*bytes.Buffer, bool, string) error {
	return func(w *bytes.Buffer, noTrunc bool, format string) error {
		return printPs(w, rows, false, noTrunc, format)
	}
}

func imagesPrinter(rows []imageRow) func(*bytes.Buffer, bool, string) error {
	return func(w *bytes.Buffer, noTrunc bool, format string) error {
		return printImages(w, rows, false, noTrunc, format)
	}
}

// TestHumanDuration: ps and images word ages as docker does (go-units' HumanDuration).
func TestHumanDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{500 * time.Millisecond, "Less than a second"},
		{time.Second, "1 second"},
		{42 * time.Second, "42 seconds"},
		{90 * time.Second, "About a minute"},
		{59 * time.Minute, "59 minutes"},
		{80 * time.Minute, "About an hour"},
		{100 * time.Minute, "2 hours"},
		{47 * time.Hour, "47 hours"},
		{72 * time.Hour, "3 days"},
		{20 * 24 * time.Hour, "2 weeks"},
		{90 * 24 * time.Hour, "3 months"},
		{3 * 365 * 24 * time.Hour, "3 years"},
	} {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := humanSince(time.Now().Add(-5 * time.Second)); got != "5 seconds ago" {
		t.Errorf("humanSince(5s ago) = %q, want %q", got, "5 seconds ago")
	}
}

// TestFormatEscapesOutsideActions: \t and \n become a tab and a newline in a format's text, as
// docker's formatter makes them, but not inside an action, where "\n" is a Go string's own
// escape: {{"\n"}} failed to parse ("unterminated quoted string").
func TestFormatEscapesOutsideActions(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{{.ID}}\t{{.Names}}\n`, "{{.ID}}\t{{.Names}}\n"},
		{`{{range .X}}{{.}}{{"\n"}}{{end}}`, `{{range .X}}{{.}}{{"\n"}}{{end}}`},
		{`a\n{{"}}\n"}}\tb`, "a\n{{\"}}\\n\"}}\tb"},
		{"{{`\\n}}`}}\\n", "{{`\\n}}`}}\n"},
		{`{{'\n'}}\n`, "{{'\\n'}}\n"},
		{`{{/* "}}\n */}}\n`, "{{/* \"}}\\n */}}\n"},
		{`{{"\n`, `{{"\n`},
		{`x\`, `x\`},
		{`\n{{`, "\n{{"},
	} {
		if got := formatEscapes.Replace(tt.in); got != tt.want {
			t.Errorf("formatEscapes(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	out, err := printInspectTemplateString(`{{range .}}{{.}}{{"\n"}}{{end}}`, []any{[]string{"a", "b"}})
	if err != nil || out != "a\nb\n\n" {
		t.Errorf("inspect template with {{\"\\n\"}} = %q, %v; want a, b on lines of their own", out, err)
	}
}

func printInspectTemplateString(format string, items []any) (string, error) {
	var b strings.Builder
	err := printInspectTemplate(&b, format, items)
	return b.String(), err
}

// TestTemplateErrorEscaped: what text/template's lexer quotes raw of a template it cannot
// read ("malformed character constant: '<CR>0'") comes back escaped, in --format's errors and
// --log-opt tag's alike (found by FuzzFormat).
func TestTemplateErrorEscaped(t *testing.T) {
	for _, format := range []string{"{{'\r0'", "{{'\x1b[2J'}}", "{{'\x00"} {
		_, _, err := renderTemplate(format, []psRow{{}})
		_, tagErr := renderLogTag(format, &logger.Info{}, 4096)
		for _, err := range []error{err, tagErr} {
			if err == nil || strings.ContainsFunc(err.Error(), unprintable) {
				t.Errorf("template %q: error %q, want one with its control characters escaped", format, err)
			}
		}
	}
}
