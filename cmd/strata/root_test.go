package main

import (
	"slices"
	"testing"
)

// TestCommandTable: the table execute picks a command from names every subcommand, and a
// tree built for one command gives it the same usage as the whole tree does.
func TestCommandTable(t *testing.T) {
	full := newRootCmd(&globals{})
	var names []string
	for _, c := range full.Commands() {
		if c.Name() != "help" && c.Name() != "completion" {
			names = append(names, c.Name())
		}
	}
	var table []string
	for _, c := range commands {
		table = append(table, c.name)
	}
	slices.Sort(names)
	slices.Sort(table)
	if !slices.Equal(names, table) {
		t.Fatalf("commands table %v, want the tree's commands %v", table, names)
	}
	for _, name := range table {
		want, _, err := full.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		root := newBareRootCmd(&globals{})
		addCommands(root, &globals{}, name)
		// name and help: the completion command, which no such args reach, is not made.
		if n := len(root.Commands()); n != 2 {
			t.Errorf("tree for %s has %d commands, want it and help", name, n)
		}
		got, _, err := root.Find([]string{name})
		if err != nil || got.Name() != name {
			t.Fatalf("tree for %s: Find = %v, %v", name, got, err)
		}
		if got.UsageString() != want.UsageString() {
			t.Errorf("usage of %s alone differs from the whole tree's:\n%s\n---\n%s", name, got.UsageString(), want.UsageString())
		}
	}
}

func TestCommandIn(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--rm", "alpine", "true"}, "run"},
		{[]string{"--root", "/x", "rm", "-f", "a"}, "rm"},
		{[]string{"--root=/x", "--debug", "ps", "-a"}, "ps"},
		{[]string{"--insecure-registry", "h:5000", "--insecure", "pull", "h:5000/a"}, "pull"},
		{[]string{"--debug=true", "version"}, "version"},
		{[]string{"--root", "run"}, ""}, // "run" is --root's value: no command
		{[]string{"--help"}, ""},
		{[]string{"-h", "run"}, ""},
		{[]string{"--version"}, ""},
		{[]string{"help", "run"}, ""},
		{[]string{"completion", "bash"}, ""},
		{[]string{"rnu", "alpine"}, ""},
		{[]string{"--bogus", "ps"}, ""},
		{[]string{"-x", "ps"}, ""},
		{[]string{"--", "run"}, ""},
		{[]string{"--root"}, ""},
		{nil, ""},
	} {
		if got := commandIn(newBareRootCmd(&globals{}), tt.args); got != tt.want {
			t.Errorf("commandIn(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestOneLine: errors print as one line, and what a registry, image or archive put in them
// cannot drive the terminal: control characters and bidi overrides come out escaped.
func TestOneLine(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain error", "plain error"},
		{"  first\nsecond\n\tthird  ", "first; second; third"},
		{"no image for linux/\x1b[2Jamd64", `no image for linux/\x1b[2Jamd64`},
		{"bell\x07 and nul\x00 and del\x7f", `bell\x07 and nul\x00 and del\x7f`},
		{"c1 \u009b31m", `c1 \x9b31m`},
		{"name \u202egpj.exe", `name \u202egpj.exe`},
		{"ünïcödé stays", "ünïcödé stays"},
	} {
		if got := oneLine(tt.in); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
