package main

import (
	"os"
	"reflect"
	"testing"
)

func TestParseCommands(t *testing.T) {
	got, err := parseCommands([]string{"-n", "a", "--", "true", "-n", "x", ";;", "-n", "b", "-mntns", "7", "sh", "-c", "exit 3"})
	if err != nil {
		t.Fatal(err)
	}
	want := []command{
		{name: "a", argv: []string{"true", "-n", "x"}}, // a command's own -n is its argument
		{name: "b", mntns: 7, argv: []string{"sh", "-c", "exit 3"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseCommands = %+v, want %+v", got, want)
	}
	for _, bad := range [][]string{
		nil,
		{"true"},                           // no -n
		{"-n", "a"},                        // no command
		{"-n", "a", ";;"},                  // no command before the separator
		{"-n", "a", "-mntns", "x", "true"}, // not a pid
		{"-n", "a", "true", ";;", "-n"},    // a name missing
	} {
		if _, err := parseCommands(bad); err == nil {
			t.Errorf("parseCommands(%q) accepted", bad)
		}
	}
}

// TestRunsInRounds: every command runs once a round, its time, CPU and exit code recorded.
func TestRunsInRounds(t *testing.T) {
	cmds := []command{{name: "ok", argv: []string{"true"}}, {name: "three", argv: []string{"sh", "-c", "exit 3"}}}
	for round := 0; round < 4; round++ {
		for i := range cmds {
			wall, user, sys, code, err := runOnce(&cmds[i])
			if err != nil {
				t.Fatal(err)
			}
			if wall <= 0 || user < 0 || sys < 0 {
				t.Errorf("%s: wall %v, user %v, sys %v", cmds[i].name, wall, user, sys)
			}
			cmds[i].times = append(cmds[i].times, wall)
			cmds[i].user = append(cmds[i].user, user)
			cmds[i].system = append(cmds[i].system, sys)
			cmds[i].codes = append(cmds[i].codes, code)
		}
	}
	r := summarize(cmds[1])
	if r.Command != "three" || len(r.Times) != 4 || !reflect.DeepEqual(r.ExitCodes, []int{3, 3, 3, 3}) {
		t.Errorf("summary %+v", r)
	}
	if r.Min > r.Median || r.Median > r.Max {
		t.Errorf("min %v, median %v, max %v out of order", r.Min, r.Median, r.Max)
	}
	if _, _, _, _, err := runOnce(&command{name: "none", argv: []string{"/nonexistent/cmd"}}); err == nil {
		t.Error("a command that cannot start gave no error")
	}
}

// TestMountNamespace: a command given -mntns runs in that process's mount namespace, here
// our own, which a thread can join only after it stops sharing the process's fs attributes.
func TestMountNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("joining a mount namespace needs CAP_SYS_ADMIN (run as root)")
	}
	c := command{name: "ns", mntns: os.Getpid(), argv: []string{"true"}}
	if _, _, _, code, err := runOnce(&c); err != nil || code != 0 {
		t.Fatalf("run in our own mount namespace: code %d, %v", code, err)
	}
	c.mntns = 1 << 30
	if _, _, _, _, err := runOnce(&c); err == nil {
		t.Error("a pid that does not exist gave no error")
	}
}
