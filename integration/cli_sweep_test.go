package integration

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestCLISweep runs the container commands on what TestCLIBadInput leaves out: an ID prefix
// two containers share, a name that is another container's ID prefix, arguments that would
// drive the terminal or are not UTF-8 or are 100 KB long, and a --format template that prints
// without end. Each call must end with docker's status and one short, printable line.
func TestCLISweep(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "sw-running") })
	mustStrata(t, root, "run", "-d", "--name", "sw-running", "alpine", "sleep", "600")
	exitedID := strings.TrimSpace(mustStrata(t, root, "create", "--name", "sw-exited", "alpine", "true").Stdout)
	mustStrata(t, root, "start", "sw-exited")
	mustStrata(t, root, "wait", "sw-exited")

	// Containers until two IDs share their first hex digit: at most 17 by pigeonhole.
	byDigit := map[byte]string{}
	var shared string
	for i := 0; shared == "" && i < 17; i++ {
		id := strings.TrimSpace(mustStrata(t, root, "create", "alpine", "true").Stdout)
		if _, ok := byDigit[id[0]]; ok {
			shared = id[:1]
		}
		byDigit[id[0]] = id
	}
	// A name that is another container's ID prefix: the name wins, as in docker.
	mustStrata(t, root, "create", "--name", exitedID[:12], "alpine", "true")

	long := strings.Repeat("a", 100<<10)
	type call struct {
		args   []string
		code   int
		want   string
		stdout string // when set, exactly this
	}
	var calls []call
	for _, cmd := range [][]string{
		{"inspect"}, {"stop"}, {"kill"}, {"rm"}, {"wait"}, {"restart"}, {"logs"}, {"top"},
		{"stats", "--no-stream"}, {"explain"}, {"rename", shared, "x"},
	} {
		args := cmd
		if cmd[0] != "rename" {
			args = append(cmd, shared)
		}
		c := call{args: args, code: 1, want: "ambiguous"}
		if cmd[0] == "inspect" {
			c.stdout = "[]\n"
		}
		calls = append(calls, c)
	}
	calls = append(calls,
		// start's own failures exit 1, as docker start's "failed to start containers" (they
		// were 125, the code of its usage errors).
		call{args: []string{"start", shared}, code: 1, want: "ambiguous"},
		call{args: []string{"exec", shared, "true"}, code: 1, want: "ambiguous"}, // docker's daemon refuses it: exit 1
		call{args: []string{"inspect", "\x1b[2J"}, code: 1, want: `no such object: "\x1b[2J"`, stdout: "[]\n"},
		call{args: []string{"rm", "\xff\xfe"}, code: 1, want: `"\xff\xfe": no such container`},
		call{args: []string{"stop", "   "}, code: 1, want: `"   ": no such container`},
		call{args: []string{"start", "a\nb"}, code: 1, want: `"a\nb": no such container`},
		call{args: []string{"kill", long}, code: 1, want: `"… (102400 bytes): no such container`},
		call{args: []string{"rmi", long}, code: 1, want: `invalid reference format: 102400 characters`},
		call{args: []string{"run", "\x1b]0;title\x07"}, code: 125, want: `invalid reference format: "\x1b]0;title\a"`},
		call{args: []string{"ps", "-f", long}, code: 1, want: `"… (102400 bytes): want KEY=VALUE`},
		call{args: []string{"ps", "-n", "x"}, code: 125, want: `invalid argument "x" for "-n, --last" flag: want a whole number`},
		call{args: []string{"logout", "\x1b[2J"}, code: 1, want: `invalid registry "\x1b[2J"`},
		call{args: []string{"ps", "-a", "--format", "{{.Bogus}}"}, code: 1, want: "no field Bogus (there are ID, "},
		call{args: []string{"ps", "-a", "--format", "{{range 100000000000}}" + strings.Repeat("x", 4096) + "{{end}}"}, code: 1, want: "more than 64 MiB"},
	)
	for _, c := range calls {
		name := strings.ReplaceAll(strings.Join(c.args, " "), long, "LONG")
		name = strings.ReplaceAll(name, strings.Repeat("x", 4096), "X4096")
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			r := strata(t, root, c.args...)
			if r.Code != c.code {
				t.Errorf("exit %d, want %d (stderr %.300q)", r.Code, c.code, r.Stderr)
			}
			assertOneLineError(t, r.Stderr, c.want)
			if len(r.Stderr) > 400 || !utf8.ValidString(r.Stderr) || strings.ContainsAny(r.Stderr, "\x1b\x07\r") {
				t.Errorf("stderr = %.300q (%d bytes), want a short line of printable UTF-8", r.Stderr, len(r.Stderr))
			}
			if c.stdout != "" && r.Stdout != c.stdout {
				t.Errorf("stdout = %.300q, want %q", r.Stdout, c.stdout)
			}
			if c.stdout == "" && r.Stdout != "" {
				t.Errorf("stdout = %.300q, want nothing: no half result", r.Stdout)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}

	// The name that looks like an ID prefix finds its own container; the container whose ID
	// it is a prefix of is still found by its full ID and by its name.
	got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.Name}}", exitedID[:12]).Stdout)
	if got != "/"+exitedID[:12] {
		t.Errorf("inspect %s = %q, want the container named so", exitedID[:12], got)
	}
	got = strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.Name}}", exitedID).Stdout)
	if got != "/sw-exited" {
		t.Errorf("inspect FULL-ID = %q, want /sw-exited", got)
	}
}
