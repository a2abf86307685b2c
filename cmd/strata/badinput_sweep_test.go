package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/strata-run/strata/archive"
	"github.com/strata-run/strata/proccard"
)

// TestOneLineBounds: bytes that are not UTF-8 come out escaped, as control characters do (a
// raw \xff\xfe reaches the terminal as mojibake), blank lines of a joined error leave no
// empty part, and a line carrying a 100 KB argument is cut to maxErrorLine runes, keeping
// its start and its end.
func TestOneLineBounds(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"no such container: \xff\xfe", `no such container: \xff\xfe`},
		{"bad \xc3 half rune and é", `bad \xc3 half rune and é`},
		{"a\n\n\nb", "a; b"},
		{"\tindented:\r\n\tcause\r\n", "indented:; cause"},
		{`no such container: "   "`, `no such container: "   "`},
		{"over\rwrite", `over\x0dwrite`},
		{"\n", ""},
	} {
		if got := oneLine(tt.in); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := "invalid --filter \"" + strings.Repeat("a", 100<<10) + "\": unknown key"
	got := oneLine(long + "\nsecond: " + strings.Repeat("é", 5000))
	first, second, ok := strings.Cut(got, "; ")
	if !ok {
		t.Fatalf("oneLine(long) = %.100q…, want two parts", got)
	}
	for _, part := range []string{first, second} {
		if n := utf8.RuneCountInString(part); n > maxErrorLine {
			t.Errorf("oneLine(long) has a part of %d runes, want at most %d", n, maxErrorLine)
		}
	}
	if !strings.HasPrefix(first, `invalid --filter "aaa`) || !strings.HasSuffix(first, `aaa": unknown key`) || !strings.Contains(first, " … ") {
		t.Errorf("oneLine(long) = %.80q…%q, want its start and end around …", first, first[len(first)-40:])
	}
	if !utf8.ValidString(second) || !strings.HasPrefix(second, "second: é") {
		t.Errorf("oneLine(long) second part = %.80q, want valid UTF-8 from its start", second)
	}
}

// TestFlagValueErrors: a flag value Go cannot parse is told as what the flag wants, not as
// the strconv function that failed, with docker's 125 for any command's flag; an empty
// command gets no suggestion.
func TestFlagValueErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ps", "-n", "x"}, 125, `ps: invalid argument "x" for "-n, --last" flag: want a whole number (see 'strata ps --help')`},
		{[]string{"ps", "-n", "99999999999999999999"}, 125, `invalid argument "99999999999999999999" for "-n, --last" flag: out of range`},
		{[]string{"stop", "-t", "", "c"}, 125, `invalid argument "" for "-t, --timeout" flag: want a whole number`},
		{[]string{"stop", "--time=1e3", "c"}, 125, `invalid argument "1e3" for "--time" flag: want a whole number`},
		{[]string{"stop", "--timeout=1e3", "c"}, 125, `invalid argument "1e3" for "-t, --timeout" flag: want a whole number`},
		{[]string{"ps", "--no-trunc=maybe"}, 125, `invalid argument "maybe" for "--no-trunc" flag: want true or false`},
		{[]string{"--debug=x", "ps"}, 125, `invalid argument "x" for "--debug" flag: want true or false`},
		{[]string{"create", "-c", "-1", "img"}, 125, `invalid argument "-1" for "-c, --cpu-shares" flag: want a whole number, 0 or more`},
		// docker's flag is an int64: past it, out of range, not clamped to 262144 with a warning.
		{[]string{"create", "-c", "9223372036854775808", "img"}, 125, `invalid argument "9223372036854775808" for "-c, --cpu-shares" flag: out of range`},
		{[]string{"update", "--cpu-shares", "18446744073709551615", "c"}, 125, `invalid argument "18446744073709551615" for "-c, --cpu-shares" flag: out of range`},
		{[]string{"create", "--pids-limit", "1e30", "img"}, 125, `invalid argument "1e30" for "--pids-limit" flag: want a whole number`},
		{[]string{"pull", "--max-concurrent-downloads", "\x1b[2J", "img"}, 125, `invalid argument "\x1b[2J" for "--max-concurrent-downloads" flag: want a whole number`},
		{[]string{""}, 1, `unknown command "" (see 'strata --help')`},
		{[]string{"system", " "}, 1, `system: unknown command " " (see 'strata system --help')`},
		{[]string{"--", "ps"}, 1, `"ps" after "--" is an argument, not a command: give the command before "--" (see 'strata --help')`},
		{[]string{"image", "--", "ls"}, 1, `image: "ls" after "--" is an argument, not a command: give the command before "--"`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := strata(t, t.TempDir(), nil, tt.args...)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != tt.code {
				t.Fatalf("strata %q = %v, want exit %d", tt.args, err, tt.code)
			}
			if got := err.Error(); !strings.HasSuffix(got, tt.want) && !strings.Contains(got, tt.want+" (see") {
				t.Errorf("strata %q = %q, want %q", tt.args, got, tt.want)
			}
			if strings.Contains(err.Error(), "strconv") {
				t.Errorf("strata %q = %q, names a Go function", tt.args, err)
			}
		})
	}
}

// TestUnreadableNames: a container or image argument that would not read back as typed
// (empty, blank, an escape sequence, bytes that are not UTF-8, 100 KB) is quoted, and cut, in
// the error of every command that looks one up; "strata:    : no such container" told nothing.
func TestUnreadableNames(t *testing.T) {
	root := t.TempDir()
	long := strings.Repeat("a", 100<<10)
	for _, tt := range []struct {
		arg, want string
	}{
		{"", `"": no such container`},
		{"   ", `"   ": no such container`},
		{"a\nb", `"a\nb": no such container`},
		{"\x1b[2J", `"\x1b[2J": no such container`},
		{"\xff\xfe", `"\xff\xfe": no such container`},
		{long, `"` + long[:maxQuoted] + `"… (102400 bytes): no such container`},
	} {
		for _, cmd := range [][]string{
			{"stop"}, {"kill"}, {"rm"}, {"rm", "-f"}, {"wait"}, {"start"}, {"restart"}, {"logs"}, {"top"},
			{"stats", "--no-stream"}, {"explain"}, {"rename", tt.arg, "new"}, {"exec", tt.arg, "true"},
			{"enter", tt.arg, "--", "true"}, {"inspect", "--type", "container"},
		} {
			args := cmd
			if !slices.Contains(cmd, tt.arg) {
				args = append(slices.Clone(cmd), tt.arg)
			}
			t.Run(fmt.Sprintf("%s %.20q", cmd[0], tt.arg), func(t *testing.T) {
				if slices.Equal(cmd, []string{"rm", "-f"}) && strings.TrimSpace(tt.arg) != "" {
					// rm -f prints a missing container's error and exits 0, as docker rm -f
					// (a blank name is still an error): the line is on stderr.
					_, stderr, err := strataOutErr(t, root, args...)
					if err != nil || stderr != "strata: "+tt.want+"\n" {
						t.Errorf("strata rm -f %.20q = %.200v, stderr %.200q; want no error and %.200q", tt.arg, err, stderr, tt.want)
					}
					return
				}
				_, err := strata(t, root, nil, args...)
				if err == nil || err.Error() != tt.want {
					t.Errorf("strata %s %.20q = %.200v, want %.200q", cmd[0], tt.arg, err, tt.want)
				}
			})
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		// A name that is no reference is refused as such, as docker refuses it, quoted.
		{[]string{"rmi", ""}, `invalid reference format: empty reference`},
		{[]string{"rmi", "  "}, `invalid reference format: "  "`},
		{[]string{"image", "inspect", "\x1b[2J"}, `invalid reference format: "\x1b[2J"`},
		{[]string{"tag", long, "x"}, `invalid reference format: 102400 characters, more than the 1024 a reference can have`},
		{[]string{"save", "-o", filepath.Join(root, "x.tar"), "UPPER"}, `invalid reference format: repository name (library/UPPER) must be lowercase`},
		{[]string{"images", "-f", "since="}, `invalid --filter "since=": invalid reference format: empty reference`},
		{[]string{"rmi", strings.Repeat("0", 64)}, `image ` + strings.Repeat("0", 64) + ` is not in the store`},
		{[]string{"inspect", " "}, `no such object: " "`},
		{[]string{"inspect", "nosuch"}, `no such object: nosuch`},
		{[]string{"inspect", "--type", "image", "nosuch"}, `no such image: nosuch`},
		{[]string{"rmi", "nosuch"}, `image nosuch is not in the store: run 'strata pull nosuch' first`},
	} {
		t.Run(fmt.Sprintf("%.40q", tt.args), func(t *testing.T) {
			_, err := strata(t, root, nil, tt.args...)
			if err == nil || err.Error() != tt.want {
				t.Errorf("strata %.40q = %.200v, want %.200q", tt.args, err, tt.want)
			}
		})
	}
}

// TestTemplateErrors: a --format template that fails says where and why in the user's terms,
// without text/template's own names or the Go type of the row ("in type main.psRow"), and a
// template that would print without end fails at maxFormatOutput with nothing written.
func TestTemplateErrors(t *testing.T) {
	rows := []psRow{{ID: "abc", Names: "web"}}
	endless := "{{range 100000000000}}" + strings.Repeat("x", 4096) + "{{end}}"
	for _, tt := range []struct {
		format, want string
	}{
		{"{{.Bogus}}", "--format: line 1, column 2, at <.Bogus>: no field Bogus (there are " + strings.Join(fieldNames(psRow{}), ", ") + ")"},
		{"table {{.ID}}\t{{.Bogus}}", "--format: line 1, column 10, at <.Bogus>: no field Bogus (there are "},
		{"{{.ID.Foo}}", "--format: line 1, column 5, at <.ID.Foo>: no field Foo"},
		{"{{index .ID 99}}", "--format: line 1, column 2, at <index .ID 99>: error calling index: index out of range: 99"},
		{"{{", "invalid --format template: line 1: unclosed action"},
		{"{{\x1b}}", "invalid --format template: line 1: unrecognized character in action: U+001B"},
		{endless, errFormatOutput.Error()},
	} {
		var out bytes.Buffer
		err := printTemplate(&out, tt.format, rows)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("printTemplate(%.40q) = %v, want %q", tt.format, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), "main.") || strings.Contains(err.Error(), "template: format")) {
			t.Errorf("printTemplate(%.40q) = %v, names Go's internals", tt.format, err)
		}
		if out.Len() != 0 {
			t.Errorf("printTemplate(%.40q) wrote %d bytes before failing, want none", tt.format, out.Len())
		}
	}
	items := []any{imageInspect{Id: "sha256:x"}, imageInspect{Id: "sha256:y"}}
	for _, tt := range []struct {
		format, want string
	}{
		{"{{.Bogus}}", "--format: line 1, column 2, at <.Bogus>: no field Bogus"},
		{"{{", "invalid --format template: line 1: unclosed action"},
		{endless, errFormatOutput.Error()},
	} {
		var out bytes.Buffer
		err := printInspectTemplate(&out, tt.format, items)
		if err == nil || err.Error() != tt.want {
			t.Errorf("printInspectTemplate(%.40q) = %v, want %q", tt.format, err, tt.want)
		}
		if out.Len() != 0 {
			t.Errorf("printInspectTemplate(%.40q) wrote %d bytes before failing, want none", tt.format, out.Len())
		}
	}
}

// TestPullOfflineFlags: pull --offline checks its flags as a pull from the network does: the
// image being in the store made a bad --platform, --progress or --max-concurrent-downloads
// pass with "Image is up to date".
func TestPullOfflineFlags(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	const img = "busybox:1.38.0-musl"
	if _, err := strata(t, root, nil, "pull", "--offline", "-q", img); err != nil {
		t.Fatalf("pull --offline %s = %v, want it up to date", img, err)
	}
	for _, tt := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--platform", "\x1b[2J"}, "platform"},
		{[]string{"--platform", "linux/"}, "platform"},
		{[]string{"--progress", "bogus"}, "bogus"},
		{[]string{"--max-concurrent-downloads", "0"}, "--max-concurrent-downloads"},
		{[]string{"--all-platforms", "--platform", "linux/amd64"}, "exclude each other"},
	} {
		args := append(append([]string{"pull", "--offline"}, tt.flags...), img)
		out, err := strata(t, root, nil, args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("strata %q = %v (stdout %q), want an error with %q", args, err, out, tt.want)
		}
	}
}

// TestLogoutBadServer: a server that no login could have stored is refused, quoted, rather
// than printed back raw in "Not logged in to …".
func TestLogoutBadServer(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for _, tt := range []struct{ server, want string }{
		{"\x1b[2J", `logout: invalid registry "\x1b[2J"`},
		{"a b", `logout: invalid registry "a b"`},
		{"\xff", `logout: invalid registry "\xff"`},
		{strings.Repeat("a", 300), `logout: invalid registry "` + strings.Repeat("a", maxQuoted) + `"… (300 bytes)`},
	} {
		out, err := strata(t, t.TempDir(), nil, "logout", tt.server)
		if err == nil || err.Error() != tt.want || out != "" {
			t.Errorf("strata logout %.20q = %q, %v, want %q", tt.server, out, err, tt.want)
		}
	}
	out, err := strata(t, t.TempDir(), nil, "logout", "registry.example:5000")
	if err != nil || out != "Not logged in to registry.example:5000\n" {
		t.Errorf("strata logout registry.example:5000 = %q, %v, want not logged in", out, err)
	}
}

// TestLongValuesQuotedShort: a 100 KB flag value or argument is quoted back cut to
// maxQuoted bytes with its length, in every error of strata's own that names it.
func TestLongValuesQuotedShort(t *testing.T) {
	long := strings.Repeat("a", 100<<10)
	cut := regexp.MustCompile(`"[^"]{1,64}a"… \(1024\d\d bytes\)`)
	for _, args := range [][]string{
		{"ps", "-f", long},
		{"ps", "-f", long + "=1"},
		{"ps", "-f", "status=" + long},
		{"images", "-f", long + "=1"},
		{"images", "-f", "dangling=" + long},
		{"system", "df", "--format", long},
		{"bench", "share", "--format", long, "x"},
		{"inspect", "--type", long, "x"},
		{"logs", "--since", long, "x"},
		{"logs", "--until", long, "x"},
		{"--storage-driver", long, "ps"},
		{"ps", "-n", long},
		{"stop", "-t", long, "x"},
		{long},
		{"system", long},
		{"prune", long},
		{"help", long},
	} {
		name := strings.ReplaceAll(strings.Join(args, " "), long, "LONG")
		t.Run(name, func(t *testing.T) {
			_, err := strata(t, t.TempDir(), nil, args...)
			if err == nil || !cut.MatchString(err.Error()) || len(err.Error()) > 400 {
				t.Errorf("strata %s = %.300v (%d bytes), want %s in a short line", name, err, len(fmt.Sprint(err)), cut)
			}
		})
	}
}

// TestSaveOutputErrors: save -o where no file can be made names the path the user gave and
// why, not the random name of the temp file beside it.
func TestSaveOutputErrors(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing", "x.tar")
	_, err := strata(t, root, nil, "save", "-o", missing, "busybox:1.38.0-musl")
	if want := "creating " + missing + ": no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("save -o %s = %v, want %q", missing, err, want)
	}
}

// TestTopEscapes: top prints a command line the container chose with its control characters
// escaped: an escape sequence would drive the terminal, a tab would shift the columns.
func TestTopEscapes(t *testing.T) {
	var out bytes.Buffer
	procs := []proccard.Process{
		{Pid: 10, NSpid: []int{10, 1}, User: "root", Command: []string{"sh", "-c", "sleep 600; true # \x1b[31mRED\tTAB\r"}},
		{Pid: 11, NSpid: []int{11, 2}, UID: 1000, Comm: "kworker\x1b[2J"},
	}
	if err := printTop(&out, procs); err != nil {
		t.Fatal(err)
	}
	want := "PID   CONTAINER PID   USER   COMMAND\n" +
		`10    1               root   sh -c sleep 600; true # \x1b[31mRED\x09TAB\x0d` + "\n" +
		`11    2               1000   [kworker\x1b[2J]` + "\n"
	if out.String() != want {
		t.Errorf("printTop = %q, want %q", out.String(), want)
	}
}

// TestSaveSameImageTwice: an image named twice, or by its name and its ID, is saved once, as
// docker saves it: the archive loads with one "Loaded image" line.
func TestSaveSameImageTwice(t *testing.T) {
	src := t.TempDir()
	if _, err := strata(t, src, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	id, err := strata(t, src, nil, "images", "-q")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"busybox:1.38.0-musl", "busybox:1.38.0-musl"},
		{"busybox:1.38.0-musl", strings.TrimSpace(id)},
	} {
		for _, format := range []string{"docker-archive", "oci-archive"} {
			out := filepath.Join(t.TempDir(), "x.tar")
			if _, err := strata(t, src, nil, append([]string{"save", "--format", format, "-o", out}, args...)...); err != nil {
				t.Fatalf("save %s %q: %v", format, args, err)
			}
			got, err := strata(t, t.TempDir(), nil, "load", "-i", out)
			if want := "Loaded image: busybox:1.38.0-musl\n"; err != nil || got != want {
				t.Errorf("load of save %s %q = %q, %v, want %q", format, args, got, err, want)
			}
		}
	}
}

// TestImagesBadPattern: a pattern path.Match refuses is told as the argument or filter the
// user gave, with what a pattern is, not as "--filter …: bad pattern" for a bare argument.
func TestImagesBadPattern(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"images", "alp[ine"}, `invalid image pattern "alp[ine": ` + badPattern},
		{[]string{"images", "\x1b[2J"}, `invalid image pattern "\x1b[2J": ` + badPattern},
		{[]string{"images", "-f", "reference=a\\"}, `invalid --filter "reference=a\\": ` + badPattern},
	} {
		_, err := strata(t, t.TempDir(), nil, tt.args...)
		if err == nil || err.Error() != tt.want {
			t.Errorf("strata %q = %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestPathsQuoted: a path strata names in an error is bare when it reads back as typed, else
// quoted (spaces, a newline, control characters) and cut past maxQuotedPath bytes; the error
// an os call gave does not name it a second time.
func TestPathsQuoted(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "missing.tar")
	long := "/" + strings.Repeat("d", 100<<10)
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"load", "-i", plain}, "loading " + plain + ": no such file or directory"},
		{[]string{"load", "-i", "   "}, `loading "   ": no such file or directory`},
		{[]string{"load", "-i", "a\nb"}, `loading "a\nb": no such file or directory`},
		{[]string{"load", "-i", long}, `loading "/` + strings.Repeat("d", maxQuotedPath-1) + `"… (102401 bytes): file name too long`},
		{[]string{"load", "-i", "\x1b[2J"}, `loading "\x1b[2J": no such file or directory`},
		{[]string{"--root", file, "ps"}, "ps: invalid --root " + file + ": not a directory"},
	} {
		_, err := strata(t, t.TempDir(), nil, tt.args...)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("strata %.60q = %.300v, want %.300q", tt.args, err, tt.want)
		}
	}
}

// TestLoadProgressEscapes: the progress a load prints on a terminal names archive entries
// with their control characters escaped: the archive chose them.
func TestLoadProgressEscapes(t *testing.T) {
	for _, tt := range []struct {
		e    archive.Event
		want string
	}{
		{archive.Event{Kind: archive.Read, Name: "blobs/\x1b]0;pwned\x07", Size: 2 << 20}, `Reading blobs/\x1b]0;pwned\x07 (2.1MB)`},
		{archive.Event{Kind: archive.Read, Name: "small", Size: 10}, ""},
	} {
		if got := loadProgressLine(tt.e); got != tt.want {
			t.Errorf("loadProgressLine(%q) = %q, want %q", tt.e.Name, got, tt.want)
		}
	}
}

// TestInspectFormatJSON: inspect --format json prints the array on one line, as docker's
// JSONInspector does; it printed the word "json" once per object, as a template.
func TestInspectFormatJSON(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"inspect", "--format", "json", "busybox:1.38.0-musl"},
		{"image", "inspect", "-f", "json", "busybox:1.38.0-musl"},
	} {
		out, err := strata(t, root, nil, args...)
		var got []map[string]any
		if err != nil || strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &got) != nil || len(got) != 1 || got[0]["Id"] == nil {
			t.Errorf("strata %q = %.200q, %v, want one line with a JSON array of the image", args, out, err)
		}
	}
	out, err := strata(t, root, nil, "inspect", "--format", "json", "nosuch")
	if out != "[]\n" || err == nil {
		t.Errorf("strata inspect --format json nosuch = %q, %v, want [] and an error", out, err)
	}
}
