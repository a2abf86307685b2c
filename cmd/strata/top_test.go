package main

import (
	"bytes"
	"testing"

	"github.com/strata-run/strata/proccard"
)

// TestTopDefunctAndNested: a zombie shows as ps and docker top show it, "[comm] <defunct>",
// not as a kernel thread would; a process of a nested pid namespace shows its PID in the
// container's namespace, not its own namespace's 1.
func TestTopDefunctAndNested(t *testing.T) {
	var out bytes.Buffer
	procs := []proccard.Process{
		{Pid: 10, NSpid: []int{10, 1}, ContainerPid: 1, User: "root", State: "S", Command: []string{"sleep", "1000"}},
		{Pid: 11, NSpid: []int{11, 2}, ContainerPid: 2, User: "root", State: "Z", Comm: "true"},
		{Pid: 12, NSpid: []int{12, 3, 1}, ContainerPid: 3, User: "root", State: "S", Command: []string{"sleep", "5"}},
	}
	if err := printTop(&out, procs); err != nil {
		t.Fatal(err)
	}
	want := "PID   CONTAINER PID   USER   COMMAND\n" +
		"10    1               root   sleep 1000\n" +
		"11    2               root   [true] <defunct>\n" +
		"12    3               root   sleep 5\n"
	if out.String() != want {
		t.Errorf("printTop = %q, want %q", out.String(), want)
	}
}
